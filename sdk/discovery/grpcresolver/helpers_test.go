package grpcresolver_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/musterhq/muster/internal/testagent"
	"github.com/musterhq/muster/sdk/discovery"
	"github.com/musterhq/muster/sdk/discovery/grpcresolver"
)

// waitTimeout bounds every poll for a state the test expects to reach; it
// is a liveness bound, not a timing assertion.
const waitTimeout = 10 * time.Second

// startServer starts a gRPC server on loopback with the standard health
// service; every answer carries the server's name in the "backend" header.
// It returns the server's host and port.
func startServer(t testing.TB, name string) (string, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if err := grpc.SetHeader(ctx, metadata.Pairs("backend", name)); err != nil {
			return nil, err
		}
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	host, port, _ := net.SplitHostPort(l.Addr().String())
	p, _ := strconv.Atoi(port)
	return host, p
}

// register registers a server as instance id of service with a passing
// TTL check id+"-ttl" and the given weight.
func register(t testing.TB, a *testagent.Agent, id, service, host string, port, weight int) {
	t.Helper()
	err := a.Client.Agent().ServiceRegister(&consul.AgentServiceRegistration{
		ID: id, Name: service, Address: host, Port: port,
		Weights: &consul.AgentWeights{Passing: weight, Warning: 1},
		Check:   &consul.AgentServiceCheck{CheckID: id + "-ttl", TTL: "10m", Status: consul.HealthPassing},
	})
	if err != nil {
		t.Fatalf("register %s: %v", id, err)
	}
}

// startServers starts and registers one server per weight, named
// "<service>-<i>", and returns their names.
func startServers(t testing.TB, a *testagent.Agent, service string, weights ...int) []string {
	t.Helper()
	var names []string
	for i, w := range weights {
		name := service + "-" + strconv.Itoa(i)
		host, port := startServer(t, name)
		register(t, a, name, service, host, port, w)
		names = append(names, name)
	}
	return names
}

// dial opens a client for target through a Resolver on a, with opts.
func dial(t testing.TB, a *testagent.Agent, target string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	r, err := discovery.NewResolver(a.Client, discovery.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	opts = append(opts,
		grpc.WithResolvers(grpcresolver.NewBuilder(r)),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// call makes one Check RPC and returns the name of the server that
// answered.
func call(t testing.TB, conn *grpc.ClientConn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	var md metadata.MD
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&md)); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if v := md.Get("backend"); len(v) == 1 {
		return v[0]
	}
	t.Fatalf("answer without a backend header: %v", md)
	return ""
}

// warm makes RPCs until every server in names has answered, so that every
// SubConn is READY before the test counts.
func warm(t testing.TB, conn *grpc.ClientConn, names []string) {
	t.Helper()
	seen := map[string]bool{}
	testagent.WaitFor(t, waitTimeout, "every server to answer", func() bool {
		for range 20 {
			seen[call(t, conn)] = true
		}
		return len(seen) == len(names)
	})
}
