// Package scorepb is the generated Go code of score.proto, the course's
// gRPC Score service: Score.GetScore(ScoreRequest{lessonId}) returns
// ScoreReply{score}.
//
// score.pb.go and score_grpc.pb.go are generated and committed; building
// needs no protoc. After editing score.proto, regenerate with go generate
// (see gen.sh for the tool versions).
package scorepb

//go:generate sh gen.sh
