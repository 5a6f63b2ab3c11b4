package checks

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// grpcProber is the prober of a gRPC check (Consul's CheckGRPC): it calls
// grpc.health.v1.Health/Check, for the service after the '/' of the target if
// there is one, and is passing if the answer is SERVING, critical otherwise.
//
// Consul dials a new connection for every probe. This prober keeps one
// client connection while it works, and drops it after a probe that failed
// without a ready connection: gRPC would retry that one only after its
// reconnect backoff (up to two minutes), so a service that came back would
// stay critical for longer than an Interval. The next probe dials afresh,
// and fails fast with the dial error if the service is still down.
type grpcProber struct {
	target string // as in the Spec: host:port[/service]
	addr   string // host:port
	req    *healthpb.HealthCheckRequest
	opts   []grpc.DialOption

	conn   *grpc.ClientConn // nil after a failure, until the next probe
	client healthpb.HealthClient
}

// newGRPCProber returns the prober of target, with TLS if tlsConfig is not
// nil. It does no I/O: the connection is made by the first probe.
func newGRPCProber(target string, tlsConfig *tls.Config) (*grpcProber, error) {
	addr, service, _ := strings.Cut(target, "/")
	creds := insecure.NewCredentials()
	if tlsConfig != nil {
		creds = credentials.NewTLS(tlsConfig)
	}
	p := &grpcProber{
		target: target,
		addr:   addr,
		req:    &healthpb.HealthCheckRequest{Service: service},
		opts:   []grpc.DialOption{grpc.WithTransportCredentials(creds)},
	}
	if err := p.connect(); err != nil {
		return nil, err
	}
	return p, nil
}

// connect gives the prober a new client connection, idle until its first
// call.
func (p *grpcProber) connect() error {
	// passthrough, as in Consul: the address goes to the dialer as written,
	// and is resolved at each connection attempt.
	conn, err := grpc.NewClient("passthrough:///"+p.addr, p.opts...)
	if err != nil {
		return fmt.Errorf("checks: gRPC client for %q: %w", p.target, err)
	}
	p.conn = conn
	p.client = healthpb.NewHealthClient(conn)
	return nil
}

func (p *grpcProber) probe(ctx context.Context) (string, string) {
	if p.conn == nil {
		if err := p.connect(); err != nil {
			return Critical, err.Error()
		}
	}
	resp, err := p.client.Check(ctx, p.req)
	if err != nil {
		if p.conn.GetState() != connectivity.Ready {
			p.drop()
		}
		return Critical, err.Error()
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return Critical, fmt.Sprintf("gRPC %s serving status: %s", p.target, resp.GetStatus())
	}
	return Passing, fmt.Sprintf("gRPC check %s: success", p.target)
}

// drop closes the prober's connection; the next probe makes a new one.
func (p *grpcProber) drop() {
	if p.conn != nil {
		p.conn.Close()
		p.conn, p.client = nil, nil
	}
}

func (p *grpcProber) close() { p.drop() }
