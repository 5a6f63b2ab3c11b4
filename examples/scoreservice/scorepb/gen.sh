#!/bin/sh
# Regenerates score.pb.go and score_grpc.pb.go from score.proto. The output is
# committed, so building needs neither protoc nor this script; run it (or
# `go generate ./examples/scoreservice/scorepb`) only after editing the proto.
#
# Needs protoc on PATH (Debian: apt-get install -y protobuf-compiler). The
# plugins are installed at pinned versions into a temporary directory:
# protoc-gen-go matches go.mod's google.golang.org/protobuf, and the
# protoc-gen-go-grpc output needs grpc-go v1.64 or later (go.mod has v1.85).
set -eu
cd "$(dirname "$0")"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GOBIN=$bin go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
GOBIN=$bin go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
PATH=$bin:$PATH protoc --proto_path=. \
	--go_out=. --go_opt=paths=source_relative \
	--go-grpc_out=. --go-grpc_opt=paths=source_relative \
	score.proto
