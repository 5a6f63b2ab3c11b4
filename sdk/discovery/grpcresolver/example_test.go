package grpcresolver_test

import (
	"context"
	"log"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/sdk/balance"
	"github.com/musterhq/muster/sdk/discovery"
	"github.com/musterhq/muster/sdk/discovery/grpcresolver"
)

// A gRPC client for every healthy instance of ScoreService, spreading RPCs
// by weight.
func Example() {
	client, err := api.NewClient(nil) // $MUSTER_HTTP_ADDR, or 127.0.0.1:8500
	if err != nil {
		log.Fatal(err)
	}
	r, err := discovery.NewResolver(client, discovery.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	conn, err := grpc.NewClient("muster:///ScoreService",
		grpc.WithResolvers(grpcresolver.NewBuilder(r)),
		grpcresolver.WithPolicy(balance.PolicyWeighted),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		log.Fatal(err)
	}
	log.Println(resp.GetStatus())
}

// Register makes "muster:///..." resolvable by every client of the
// process; the service config can then name a muster balancer directly.
func ExampleRegister() {
	client, err := api.NewClient(nil)
	if err != nil {
		log.Fatal(err)
	}
	r, err := discovery.NewResolver(client, discovery.Options{})
	if err != nil {
		log.Fatal(err)
	}
	grpcresolver.Register(r) // at start-up, before any client

	conn, err := grpc.NewClient("muster:///ScoreService",
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"muster_p2c":{}}]}`),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
}
