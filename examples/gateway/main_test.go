package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	"google.golang.org/grpc"

	"github.com/musterhq/muster/examples/scoreservice/scorepb"
	"github.com/musterhq/muster/internal/testagent"
)

// summaryLine matches a summary row: address, calls, share, weight.
var summaryLine = regexp.MustCompile(`(?m)^(\S+:\d+)\s+(\d+)\s+[\d.]+%\s+(\S+)$`)

// runGateway runs the program and returns its exit code, its output and
// the calls per instance from the summary.
func runGateway(t *testing.T, args ...string) (int, string, map[string]int) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, args, &out, &errOut)
	counts := map[string]int{}
	for _, m := range summaryLine.FindAllStringSubmatch(out.String(), -1) {
		n, _ := strconv.Atoi(m[2])
		counts[m[1]] = n
	}
	if t.Failed() || code != 0 {
		t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	}
	return code, out.String(), counts
}

// registerAt registers addr as an instance of service with weight, with no
// check (so it is passing).
func registerAt(t *testing.T, a *testagent.Agent, service, addr string, weight int) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	err := a.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
		ID: fmt.Sprintf("%s-%s", service, port), Name: service, Address: host, Port: p,
		Tags: []string{strconv.Itoa(weight)}, Weights: &consulapi.AgentWeights{Passing: weight, Warning: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// startUsers starts an HTTP server answering /api/users/all and registers it.
func startUsers(t *testing.T, a *testagent.Agent, weight int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/users/all" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`[{"Id":1,"Name":"Eleven"}]`))
	}))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	registerAt(t, a, "UserService", addr, weight)
	return addr
}

func TestWeightsFollow1to5to10(t *testing.T) {
	a := testagent.Start(t)
	w1, w5, w10 := startUsers(t, a, 1), startUsers(t, a, 5), startUsers(t, a, 10)
	cases := map[string]struct {
		balancer string
		want     map[string]int // nil: only check every call succeeded
	}{
		"weighted":    {"weighted", map[string]int{w1: 10, w5: 50, w10: 100}},
		"round-robin": {"round-robin", nil},
		"p2c":         {"p2c", nil},
		"random":      {"random", nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, out, counts := runGateway(t, "--agent="+a.Addr, "--requests=160", "--balancer="+tc.balancer)
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			if !strings.Contains(out, "This is http://"+w10+"/api/users/all Invoke") && tc.balancer == "weighted" {
				t.Errorf("no seed line for %s in output", w10)
			}
			total := 0
			for _, n := range counts {
				total += n
			}
			if total != 160 || !strings.Contains(out, "calls=160 failed=0") {
				t.Errorf("counts %v, want 160 calls in all", counts)
			}
			if tc.balancer == "round-robin" {
				for _, addr := range []string{w1, w5, w10} {
					if n := counts[addr]; n < 53 || n > 54 {
						t.Errorf("round robin gave %s %d calls, want 53 or 54", addr, n)
					}
				}
			}
			for addr, want := range tc.want {
				if counts[addr] != want {
					t.Errorf("%s answered %d calls, want %d (counts %v)", addr, counts[addr], want, counts)
				}
			}
		})
	}
}

func TestDeadInstanceGetsNoCalls(t *testing.T) {
	a := testagent.Start(t)
	live := startUsers(t, a, 1)
	// A second instance, registered and passing, whose process is gone.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	registerAt(t, a, "UserService", dead, 1)
	code, _, counts := runGateway(t, "--agent="+a.Addr, "--requests=20", "--balancer=round-robin", "--quiet")
	if code != 0 || counts[live] != 20 || counts[dead] != 0 {
		t.Errorf("exit %d, counts %v: want all 20 calls answered by %s", code, counts, live)
	}
}

func TestNoInstance(t *testing.T) {
	a := testagent.Start(t)
	code, out, _ := runGateway(t, "--agent="+a.Addr, "--requests=2", "--url=http://Nobody/x")
	if code != 1 || !strings.Contains(out, "no healthy instance") && !strings.Contains(out, "Nobody") {
		t.Errorf("exit %d, output %q: want failures naming the service", code, out)
	}
}

// scoreServer answers GetScore.
type scoreServer struct {
	scorepb.UnimplementedScoreServer
}

func (scoreServer) GetScore(context.Context, *scorepb.ScoreRequest) (*scorepb.ScoreReply, error) {
	return &scorepb.ScoreReply{Score: 100}, nil
}

func TestGRPC(t *testing.T) {
	a := testagent.Start(t)
	var addrs []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := grpc.NewServer()
		scorepb.RegisterScoreServer(s, scoreServer{})
		go s.Serve(ln)
		t.Cleanup(s.Stop)
		addrs = append(addrs, ln.Addr().String())
		registerAt(t, a, "scoreservice", ln.Addr().String(), 1)
	}
	// The balancer picks among the READY connections, and the first calls
	// may come before both are: no even split is asserted, only that both
	// instances answer. The interval leaves the second connection time.
	code, out, counts := runGateway(t, "--agent="+a.Addr, "--grpc=scoreservice", "--requests=30",
		"--interval=20ms", "--balancer=round-robin")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	total := 0
	for _, addr := range addrs {
		if counts[addr] == 0 {
			t.Errorf("%s answered no call (counts %v)", addr, counts)
		}
		total += counts[addr]
	}
	if total != 30 {
		t.Errorf("the instances answered %d calls, want 30 (counts %v)", total, counts)
	}
	if !strings.Contains(out, "GetScore: score=100") {
		t.Errorf("output lacks the score line:\n%s", out)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"--requests=0"}, {"--balancer=fastest"}, {"extra"}} {
		if code, _, _ := runGateway(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}
