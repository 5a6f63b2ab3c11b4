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

# deploy/: the FROM-scratch image and the compose cluster's end-to-end test
# (deploy/README.md).
.PHONY: image e2e
image:
	CGO_ENABLED=0 go build -trimpath -o deploy/bin/muster ./cmd/muster
	CGO_ENABLED=0 go build -trimpath -o deploy/bin/userservice ./examples/userservice
	CGO_ENABLED=0 go build -trimpath -o deploy/bin/fetch ./deploy/fetch
	docker build -t muster:dev deploy
e2e:
	bash deploy/e2e.sh
