# Convenience targets; the README's two commands need none of them.
.PHONY: build dev test suite fuzz
build:
	CGO_ENABLED=0 go build -o muster ./cmd/muster
dev:
	go run ./cmd/muster agent -dev
test:
	go test ./...
suite:
	bash scripts/consul-api-suite.sh
fuzz:
	go test ./internal/httpapi -run '^$$' -fuzz FuzzTxnDecode -fuzztime 30s
	go test ./internal/httpapi -run '^$$' -fuzz FuzzSessionDecode -fuzztime 30s
