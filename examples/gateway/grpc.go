package main

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"

	"github.com/musterhq/muster/examples/scoreservice/scorepb"
	"github.com/musterhq/muster/sdk/discovery"
	"github.com/musterhq/muster/sdk/discovery/grpcresolver"
)

// grpcCaller calls Score.GetScore on muster:///<service>.
type grpcCaller struct {
	conn  *grpc.ClientConn
	score scorepb.ScoreClient
}

func newGRPCCaller(r *discovery.Resolver, service, policy string) (*grpcCaller, error) {
	conn, err := grpc.NewClient(grpcresolver.Scheme+":///"+service,
		grpc.WithResolvers(grpcresolver.NewBuilder(r)),
		grpcresolver.WithPolicy(policy),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	return &grpcCaller{conn: conn, score: scorepb.NewScoreClient(conn)}, nil
}

func (g *grpcCaller) call(ctx context.Context) (string, string, error) {
	var p peer.Peer
	reply, err := g.score.GetScore(ctx, &scorepb.ScoreRequest{LessonId: "1"}, grpc.Peer(&p), grpc.WaitForReady(true))
	if err != nil {
		return "", "", err
	}
	addr := p.Addr.String()
	return addr, fmt.Sprintf("This is %s GetScore: score=%d", addr, reply.GetScore()), nil
}

func (g *grpcCaller) close() { g.conn.Close() }
