package main

import (
	"context"
	"log/slog"

	"github.com/musterhq/muster/examples/scoreservice/scorepb"
)

// seedScore is the score the course's ScoreService gives every lesson.
const seedScore = 100

// scoreServer is the course's ScoreService: GetScore logs the lesson and
// answers 100, whatever the lesson. gRPC calls it from its own goroutine
// per RPC; it keeps no state, so it is safe for concurrent use.
type scoreServer struct {
	scorepb.UnimplementedScoreServer
	log *slog.Logger // never nil
}

// GetScore answers every lesson with seedScore. It never fails.
func (s *scoreServer) GetScore(_ context.Context, req *scorepb.ScoreRequest) (*scorepb.ScoreReply, error) {
	s.log.Info("This is ScoreService GetScore", "lessonId", req.GetLessonId())
	return &scorepb.ScoreReply{Score: seedScore}, nil
}
