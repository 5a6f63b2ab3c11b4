package checks

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// newGRPCServer serves the standard health service on addr ("127.0.0.1:0"
// for any port), over TLS if cert is not nil, until t's cleanup. The whole
// server ("") and the service "svc" start SERVING.
func newGRPCServer(t *testing.T, addr string, cert *tls.Certificate) (string, *health.Server) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if cert != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{*cert}})))
	}
	srv := grpc.NewServer(opts...)
	hs := health.NewServer()
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return l.Addr().String(), hs
}

func TestGRPC(t *testing.T) {
	addr, hs := newGRPCServer(t, "127.0.0.1:0", nil)
	hs.SetServingStatus("down", healthpb.HealthCheckResponse_NOT_SERVING)

	type testcase struct {
		target     string
		wantStatus string
		wantOutput string
	}
	run := func(t *testing.T, tc testcase) {
		rec := newRecorder(t)
		start(t, Spec{ID: "api", GRPC: tc.target, Interval: testInterval}, rec)
		u := rec.waitMatch(t, "any status", func(update) bool { return true })
		if u.status != tc.wantStatus || !strings.Contains(u.output, tc.wantOutput) {
			t.Errorf("got %s %q, want %s and %q", u.status, u.output, tc.wantStatus, tc.wantOutput)
		}
	}

	cases := map[string]testcase{
		"server serving":      {addr, Passing, "gRPC check " + addr + ": success"},
		"service serving":     {addr + "/svc", Passing, "gRPC check " + addr + "/svc: success"},
		"service not serving": {addr + "/down", Critical, "gRPC " + addr + "/down serving status: NOT_SERVING"},
		"unknown service":     {addr + "/nope", Critical, "NotFound"},
		"server down":         {closedAddr(t), Critical, "connection refused"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func TestGRPCStatusChanges(t *testing.T) {
	addr, hs := newGRPCServer(t, "127.0.0.1:0", nil)
	rec := newRecorder(t)
	start(t, Spec{ID: "api", GRPC: addr + "/svc", Interval: testInterval}, rec)
	rec.waitFor(t, Passing)
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_NOT_SERVING)
	rec.waitFor(t, Critical)
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
	rec.waitFor(t, Passing)
}

// A server that comes back on the same address is seen at the next probes.
func TestGRPCServerComesBack(t *testing.T) {
	addr := closedAddr(t)
	rec := newRecorder(t)
	start(t, Spec{ID: "api", GRPC: addr, Interval: testInterval}, rec)
	rec.waitFor(t, Critical)
	rec.waitFor(t, Critical)
	newGRPCServer(t, addr, nil)
	rec.waitFor(t, Passing)
}

// A connection that failed is dropped rather than left to gRPC's reconnect
// backoff, which grows to two minutes; a working one is kept.
func TestGRPCConnectionDroppedAfterFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	p, err := newGRPCProber(closedAddr(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	for range 2 { // the second probe dials afresh
		if status, output := p.probe(ctx); status != Critical {
			t.Fatalf("probe of a closed port: %s %q", status, output)
		}
		if p.conn != nil {
			t.Fatalf("the failed connection (%s) was kept", p.conn.GetState())
		}
	}

	addr, hs := newGRPCServer(t, "127.0.0.1:0", nil)
	hs.SetServingStatus("down", healthpb.HealthCheckResponse_NOT_SERVING)
	p, err = newGRPCProber(addr+"/down", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	working := p.conn
	for range 2 {
		if status, output := p.probe(ctx); status != Critical || p.conn != working {
			t.Errorf("probe: %s %q; same connection: %v", status, output, p.conn == working)
		}
	}
}

func TestGRPCTLS(t *testing.T) {
	cert, pool := newTestCert(t)
	addr, _ := newGRPCServer(t, "127.0.0.1:0", &cert)

	type testcase struct {
		base       *tls.Config
		spec       Spec
		wantStatus string
		wantOutput string
	}
	run := func(t *testing.T, tc testcase) {
		opts := testOptions(t)
		opts.TLSConfig = tc.base
		rec := newRecorder(t)
		tc.spec.ID, tc.spec.GRPC, tc.spec.Interval = "api", addr, testInterval
		startWith(t, tc.spec, rec, opts)
		u := rec.waitMatch(t, "any status", func(update) bool { return true })
		if u.status != tc.wantStatus || !strings.Contains(u.output, tc.wantOutput) {
			t.Errorf("got %s %q, want %s and %q", u.status, u.output, tc.wantStatus, tc.wantOutput)
		}
	}

	cases := map[string]testcase{
		"skip verify":       {spec: Spec{GRPCUseTLS: true, TLSSkipVerify: true}, wantStatus: Passing, wantOutput: "success"},
		"trusted root":      {base: &tls.Config{RootCAs: pool}, spec: Spec{GRPCUseTLS: true}, wantStatus: Passing, wantOutput: "success"},
		"server name":       {base: &tls.Config{RootCAs: pool}, spec: Spec{GRPCUseTLS: true, TLSServerName: "checks.test"}, wantStatus: Passing, wantOutput: "success"},
		"unknown authority": {spec: Spec{GRPCUseTLS: true}, wantStatus: Critical, wantOutput: "certificate"},
		"plaintext to tls":  {spec: Spec{}, wantStatus: Critical, wantOutput: "Unavailable"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}
