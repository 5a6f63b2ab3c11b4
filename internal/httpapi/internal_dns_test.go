package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/musterhq/muster/internal/fsm"
	"github.com/musterhq/muster/internal/httpapi"
	"github.com/musterhq/muster/internal/state"
)

// The DNS reads a client agent sends to a server answer from the server's
// store, in msgpack.
func TestInternalDNSReads(t *testing.T) {
	f := fsm.New()
	err := f.State().Register(1, time.Now().UnixNano(), &state.Registration{
		Node:    state.Node{Node: "n1.rack", Address: "10.0.0.1", Meta: map[string]string{"k": "v"}},
		Service: &state.Service{ID: "web-1", Service: "web", Port: 80, Tags: []string{"v1"}},
		Checks: []*state.HealthCheck{
			{CheckID: "serfHealth", Status: state.HealthPassing},
			{CheckID: "web-ttl", Status: state.HealthWarning, ServiceID: "web-1"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Config{FSM: f, Logger: slog.New(slog.DiscardHandler)})
	get := func(path string, v any) {
		t.Helper()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, rec.Code, body)
		}
		if err := fsm.DecodeBody(body, v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}

	var insts []state.ServiceInstance
	get("/v1/internal/dns/service/WEB?stale", &insts)
	if len(insts) != 1 || insts[0].Service.Port != 80 || insts[0].Node.Address != "10.0.0.1" || len(insts[0].HealthChecks()) != 2 {
		t.Fatalf("service: %+v", insts)
	}
	get("/v1/internal/dns/service/nothing?stale", &insts)
	if len(insts) != 0 {
		t.Fatalf("missing service: %+v", insts)
	}

	var node *state.Node
	get("/v1/internal/dns/node/n1.rack?stale", &node)
	if node == nil || node.Address != "10.0.0.1" || node.Meta["k"] != "v" {
		t.Fatalf("node: %+v", node)
	}
	node = &state.Node{Node: "stale"}
	get("/v1/internal/dns/node/nothing?stale", &node)
	if node != nil {
		t.Fatalf("missing node: %+v", node)
	}
}
