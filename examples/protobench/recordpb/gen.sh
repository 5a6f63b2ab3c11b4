#!/bin/sh
# Regenerates post.pb.go from post.proto. The output is committed, so
# building needs neither protoc nor this script; run it (or
# `go generate ./examples/protobench/recordpb`) only after editing the proto.
#
# Needs protoc on PATH (Debian: apt-get install -y protobuf-compiler). The
# plugin is installed into a temporary directory at the version that matches
# go.mod's google.golang.org/protobuf.
set -eu
cd "$(dirname "$0")"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GOBIN=$bin go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PATH=$bin:$PATH protoc --proto_path=. \
	--go_out=. --go_opt=paths=source_relative \
	post.proto
