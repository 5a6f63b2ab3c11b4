package main

import (
	"log/slog"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/musterhq/muster/examples/scoreservice/scorepb"
)

// server is the process's one gRPC server. It serves Score and the
// standard grpc.health.v1.Health service on the same port, so the agent's
// gRPC check needs no second (HTTP/1) port: the seed's "one process, two
// protocols" workaround is not needed.
type server struct {
	grpc   *grpc.Server
	health *health.Server
}

// newServer returns a server whose health service reports SERVING both
// overall ("") and for score.Score.
func newServer(log *slog.Logger) *server {
	s := &server{grpc: grpc.NewServer(), health: health.NewServer()}
	scorepb.RegisterScoreServer(s.grpc, &scoreServer{log: log})
	healthpb.RegisterHealthServer(s.grpc, s.health)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(scorepb.Score_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	return s
}

// serve accepts connections on ln until stop; it returns nil after stop
// and the accept error otherwise.
func (s *server) serve(ln net.Listener) error { return s.grpc.Serve(ln) }

// drain makes every health status NOT_SERVING for good, so the agent's
// check turns critical and clients that watch health stop picking this
// instance. RPCs keep being served.
func (s *server) drain() { s.health.Shutdown() }

// stop stops accepting connections and waits up to timeout for the RPCs
// in flight, then closes whatever is left.
func (s *server) stop(timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.grpc.Stop()
		<-done
	}
}
