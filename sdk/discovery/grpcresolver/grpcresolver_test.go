package grpcresolver_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"

	"github.com/musterhq/muster/internal/testagent"
	"github.com/musterhq/muster/sdk/balance"
	"github.com/musterhq/muster/sdk/discovery"
	"github.com/musterhq/muster/sdk/discovery/grpcresolver"
)

// Each policy spreads RPCs over the three servers (weights 1, 5, 10) as it
// does over a balance.Instance list.
func TestPolicies(t *testing.T) {
	const n = 480
	type testcase struct {
		policy string
		want   []int // counts per server; nil: every server gets some
	}
	run := func(t *testing.T, tc testcase) {
		a := testagent.Start(t)
		names := startServers(t, a, "score", 1, 5, 10)
		conn := dial(t, a, "muster:///score", grpcresolver.WithPolicy(tc.policy))
		warm(t, conn, names)
		counts := map[string]int{}
		for range n {
			counts[call(t, conn)]++
		}
		for i, name := range names {
			switch {
			case tc.want == nil && counts[name] == 0:
				t.Errorf("%s got no RPC: %v", name, counts)
			case tc.want != nil && abs(counts[name]-tc.want[i]) > 2:
				// ±2: the weighted sequence may be mid-cycle when counting starts.
				t.Errorf("%s got %d RPCs, want %d±2: %v", name, counts[name], tc.want[i], counts)
			}
		}
	}
	for name, tc := range map[string]testcase{
		"round robin":     {balance.PolicyRoundRobin, []int{n / 3, n / 3, n / 3}},
		"weighted":        {balance.PolicyWeighted, []int{n / 16, 5 * n / 16, 10 * n / 16}},
		"random":          {balance.PolicyRandom, nil},
		"weighted random": {balance.PolicyWeightedRandom, nil},
		"p2c":             {balance.PolicyP2C, nil},
	} {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func abs(x int) int { return max(x, -x) }

// A server whose check goes critical stops getting RPCs, and gets them
// again when it passes.
func TestHealthChange(t *testing.T) {
	a := testagent.Start(t)
	names := startServers(t, a, "score", 1, 1, 1)
	conn := dial(t, a, "muster:///score", grpcresolver.WithPolicy(balance.PolicyRoundRobin))
	warm(t, conn, names)

	sick := names[1]
	if err := a.Client.Agent().FailTTL(sick+"-ttl", "down"); err != nil {
		t.Fatal(err)
	}
	testagent.WaitFor(t, waitTimeout, sick+" to stop getting RPCs", func() bool {
		for range 30 {
			if call(t, conn) == sick {
				return false
			}
		}
		return true
	})
	for range 300 {
		if got := call(t, conn); got == sick {
			t.Fatalf("%s got an RPC after it stopped getting them", sick)
		}
	}
	if err := a.Client.Agent().PassTTL(sick+"-ttl", "ok"); err != nil {
		t.Fatal(err)
	}
	testagent.WaitFor(t, waitTimeout, sick+" to get RPCs again", func() bool {
		for range 30 {
			if call(t, conn) == sick {
				return true
			}
		}
		return false
	})
}

// Without a muster balancer, gRPC's pick_first still gets its addresses
// from the resolver.
func TestPickFirst(t *testing.T) {
	a := testagent.Start(t)
	names := startServers(t, a, "score", 1, 1)
	conn := dial(t, a, "muster:///score")
	first := call(t, conn)
	if first != names[0] && first != names[1] {
		t.Fatalf("answered by %q", first)
	}
	for range 20 {
		if got := call(t, conn); got != first {
			t.Fatalf("pick_first moved from %s to %s", first, got)
		}
	}
}

func TestBuild_BadTarget(t *testing.T) {
	a := testagent.Start(t)
	r, err := discovery.NewResolver(a.Client, discovery.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	b := grpcresolver.NewBuilder(r)
	for _, target := range []string{"muster:///", "muster:///a/b"} {
		u, err := url.Parse(target)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Build(resolver.Target{URL: *u}, nil, resolver.BuildOptions{}); err == nil || !strings.Contains(err.Error(), "names no service") {
			t.Errorf("Build(%s) error = %v, want one naming the problem", target, err)
		}
	}
}

func TestServiceConfig(t *testing.T) {
	for _, policy := range balance.Policies() {
		sc, err := grpcresolver.ServiceConfig(policy)
		if err != nil || !strings.Contains(sc, grpcresolver.BalancerName(policy)) {
			t.Errorf("ServiceConfig(%q) = %q, %v", policy, sc, err)
		}
	}
	if _, err := grpcresolver.ServiceConfig("least-conn"); !errors.Is(err, balance.ErrUnknownPolicy) {
		t.Errorf("ServiceConfig(least-conn) error = %v, want ErrUnknownPolicy", err)
	}
	if _, err := grpc.NewClient("muster:///x", grpcresolver.WithPolicy("least-conn")); err == nil {
		t.Error("NewClient with an unknown policy succeeded")
	}
}

// With the agent unreachable before any answer, an RPC that does not wait
// for ready fails at once with Unavailable and the agent's error, instead
// of at its deadline.
func TestUnreachableAgentFailsFast(t *testing.T) {
	a := testagent.Start(t)
	a.Shutdown() // its address now refuses connections
	conn := dial(t, a, "muster:///nothing")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var err error
	for ctx.Err() == nil {
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = healthpb.NewHealthClient(conn).Check(rctx, &healthpb.HealthCheckRequest{})
		rcancel()
		if status.Code(err) == codes.Unavailable && strings.Contains(err.Error(), "refused") {
			return
		}
	}
	t.Fatalf("last RPC error: %v; want Unavailable naming the refused connection", err)
}
