package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/musterhq/muster/examples/scoreservice/scorepb"
)

// A client calls GetScore as the course's HomeController does, and asks the
// health service what the agent's check asks. Here the server runs
// in-process on a free port; against a running scoreservice, dial its
// --ip:--port (or muster:///scoreservice with the muster resolver).
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	s := newServer(slog.New(slog.DiscardHandler))
	go s.serve(ln)
	defer s.stop(0)

	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()

	reply, err := scorepb.NewScoreClient(conn).GetScore(ctx, &scorepb.ScoreRequest{LessonId: "123"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("score:", reply.GetScore())

	health, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "score.Score"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("health:", health.GetStatus())
	// Output:
	// score: 100
	// health: SERVING
}
