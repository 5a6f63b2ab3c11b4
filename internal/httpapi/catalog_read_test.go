package httpapi_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/internal/testagent"
)

// registerWeb registers instance web-N on node nodeN with one service check
// in the given status.
func registerWeb(t *testing.T, a *testagent.Agent, n int, status string, tags []string, nodeMeta map[string]string) {
	t.Helper()
	node := "node" + string(rune('0'+n))
	id := "web-" + string(rune('0'+n))
	_, err := a.Client.Catalog().Register(&consul.CatalogRegistration{
		Node: node, Address: "10.0.0." + string(rune('0'+n)), NodeMeta: nodeMeta,
		Service: &consul.AgentService{ID: id, Service: "web", Port: 8000 + n, Tags: tags,
			Weights: consul.AgentWeights{Passing: n, Warning: 1}},
		Check: &consul.AgentCheck{CheckID: "http:" + id, Name: "web http", Status: status, ServiceID: id,
			Definition: consul.HealthCheckDefinition{HTTP: "http://10.0.0.1/health", IntervalDuration: 12 * time.Second,
				TimeoutDuration: 5 * time.Second, DeregisterCriticalServiceAfterDuration: 20 * time.Second}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

func TestHealthService_FiltersAndShapes(t *testing.T) {
	a := testagent.Start(t)
	registerWeb(t, a, 1, "passing", []string{"v1", "primary"}, map[string]string{"rack": "a"})
	registerWeb(t, a, 2, "critical", []string{"v1"}, map[string]string{"rack": "b"})
	registerWeb(t, a, 3, "warning", []string{"v2"}, map[string]string{"rack": "a"})
	h := a.Client.Health()

	ids := func(entries []*consul.ServiceEntry) []string {
		var out []string
		for _, e := range entries {
			out = append(out, e.Service.ID)
		}
		return out
	}
	tests := map[string]struct {
		tags    []string
		passing bool
		q       *consul.QueryOptions
		want    []string
	}{
		"all":          {want: []string{"web-1", "web-2", "web-3"}},
		"passing":      {passing: true, want: []string{"web-1"}},
		"tag":          {tags: []string{"v1"}, want: []string{"web-1", "web-2"}},
		"two tags":     {tags: []string{"v1", "primary"}, want: []string{"web-1"}},
		"node meta":    {q: &consul.QueryOptions{NodeMeta: map[string]string{"rack": "a"}}, want: []string{"web-1", "web-3"}},
		"filter":       {q: &consul.QueryOptions{Filter: `Service.Port == 8003 and "v2" in Service.Tags`}, want: []string{"web-3"}},
		"filter check": {q: &consul.QueryOptions{Filter: `any Checks as c { c.Status == "critical" }`}, want: []string{"web-2"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			entries, _, err := h.ServiceMultipleTags("web", tc.tags, tc.passing, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(entries); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}

	entries, _, err := h.Service("web", "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := entries[0]
	if e.Node.Node != "node1" || e.Node.Meta["rack"] != "a" || e.Service.Weights.Passing != 1 || e.Service.Port != 8001 {
		t.Fatalf("entry: node %+v service %+v", e.Node, e.Service)
	}
	if len(e.Checks) != 1 || e.Checks[0].Definition.IntervalDuration != 12*time.Second ||
		e.Checks[0].Definition.DeregisterCriticalServiceAfterDuration != 20*time.Second || e.Checks[0].Type != "http" {
		t.Fatalf("checks: %+v", e.Checks)
	}

	// The catalog shapes: CatalogService, the services map, node views.
	cs, _, err := a.Client.Catalog().Service("web", "v2", nil)
	if err != nil || len(cs) != 1 || cs[0].ServiceID != "web-3" || cs[0].Address != "10.0.0.3" || cs[0].NodeMeta["rack"] != "a" {
		t.Fatalf("catalog service: %+v %v", cs, err)
	}
	services, _, err := a.Client.Catalog().Services(nil)
	if err != nil || !slices.Equal(services["web"], []string{"primary", "v1", "v2"}) {
		t.Fatalf("services: %v %v", services, err)
	}
	if _, ok := services["consul"]; !ok {
		t.Fatalf("the server's own consul service is missing: %v", services)
	}
	node, _, err := a.Client.Catalog().Node("node2", nil)
	if err != nil || node.Node.Address != "10.0.0.2" || node.Services["web-2"] == nil {
		t.Fatalf("catalog node: %+v %v", node, err)
	}
	if missing, _, err := a.Client.Catalog().Node("ghost", nil); err != nil || missing != nil {
		t.Fatalf("missing node: %+v %v", missing, err)
	}
	ns, _, err := a.Client.Catalog().NodeServiceList("node3", nil)
	if err != nil || len(ns.Services) != 1 || ns.Services[0].ID != "web-3" {
		t.Fatalf("node services: %+v %v", ns, err)
	}

	// Health checks by service and by state.
	checks, _, err := h.Checks("web", nil)
	if err != nil || len(checks) != 3 {
		t.Fatalf("checks of web: %+v %v", checks, err)
	}
	crit, _, err := h.State("critical", nil)
	if err != nil || len(crit) != 1 || crit[0].ServiceID != "web-2" {
		t.Fatalf("critical: %+v %v", crit, err)
	}
	if status, body := do(t, a, "GET", "/v1/health/state/sad", nil); status != 400 || !strings.Contains(body, "Bad check state") {
		t.Fatalf("bad state: %d %q", status, body)
	}
	if status, body := do(t, a, "GET", "/v1/health/service/web?filter=Service.Port%20%3D%3D", nil); status != 400 || !strings.Contains(body, "boolean expression") {
		t.Fatalf("bad filter: %d %q", status, body)
	}
}

// A blocking read of one service wakes for a change to that service (its
// instance, its check, its node) and not for another service's.
func TestHealthService_BlockingPerService(t *testing.T) {
	a := testagent.Start(t)
	registerWeb(t, a, 1, "passing", nil, nil)
	h := a.Client.Health()
	_, meta, err := h.Service("web", "", false, nil)
	if err != nil {
		t.Fatal(err)
	}

	type answer struct {
		entries []*consul.ServiceEntry
		index   uint64
	}
	wait := func(index uint64) <-chan answer {
		ch := make(chan answer, 1)
		go func() {
			e, m, err := h.Service("web", "", true, &consul.QueryOptions{WaitIndex: index, WaitTime: 30 * time.Second})
			if err != nil {
				t.Error(err)
			}
			ch <- answer{e, m.LastIndex}
		}()
		return ch
	}
	ch := wait(meta.LastIndex)

	// Another service's registration leaves the watcher asleep...
	if _, err := a.Client.Catalog().Register(&consul.CatalogRegistration{Node: "other", Address: "10.0.9.9",
		Service: &consul.AgentService{Service: "db", Port: 5432}}, nil); err != nil {
		t.Fatal(err)
	}
	// ...and the web check going critical wakes it with no passing instance.
	registerWeb(t, a, 1, "critical", nil, nil)
	select {
	case got := <-ch:
		if len(got.entries) != 0 || got.index <= meta.LastIndex {
			t.Fatalf("woke with %d entries at index %d (was %d)", len(got.entries), got.index, meta.LastIndex)
		}
		_, dbMeta, _ := a.Client.Health().Service("db", "", false, nil)
		if got.index == dbMeta.LastIndex {
			t.Fatalf("web's index %d is db's: the watcher woke for another service", got.index)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("blocking health read did not wake")
	}
}

func TestTxn_CatalogOps(t *testing.T) {
	a := testagent.Start(t)
	txn := a.Client.Txn()
	ok, resp, _, err := txn.Txn(consul.TxnOps{
		{Node: &consul.NodeTxnOp{Verb: consul.NodeSet, Node: consul.Node{Node: "n1", Address: "1.1.1.1"}}},
		{Service: &consul.ServiceTxnOp{Verb: consul.ServiceSet, Node: "n1", Service: consul.AgentService{ID: "s1", Service: "svc"}}},
		{Check: &consul.CheckTxnOp{Verb: consul.CheckSet, Check: consul.HealthCheck{Node: "n1", CheckID: "c1", ServiceID: "s1", Status: "passing"}}},
	}, nil)
	if err != nil || !ok {
		t.Fatalf("set: ok=%v err=%v resp=%+v", ok, err, resp)
	}
	if c := resp.Results[2].Check; c.ServiceName != "svc" {
		t.Fatalf("check did not take its service's name: %+v", c)
	}
	svcIdx := resp.Results[1].Service.ModifyIndex

	tests := map[string]struct {
		op   *consul.TxnOp
		want string // "" for success, else the error text
	}{
		"node cas stale": {&consul.TxnOp{Node: &consul.NodeTxnOp{Verb: consul.NodeCAS,
			Node: consul.Node{Node: "n1", Address: "2.2.2.2", ModifyIndex: 1}}}, `failed to set node "n1", index is stale`},
		"service cas new exists": {&consul.TxnOp{Service: &consul.ServiceTxnOp{Verb: consul.ServiceCAS, Node: "n1",
			Service: consul.AgentService{ID: "s1", Service: "svc"}}}, `failed to set service "s1" on node "n1", index is stale`},
		"service get missing": {&consul.TxnOp{Service: &consul.ServiceTxnOp{Verb: consul.ServiceGet, Node: "n1",
			Service: consul.AgentService{ID: "nope"}}}, `service "nope" on node "n1" doesn't exist`},
		"check delete-cas stale": {&consul.TxnOp{Check: &consul.CheckTxnOp{Verb: consul.CheckDeleteCAS,
			Check: consul.HealthCheck{Node: "n1", CheckID: "c1", ModifyIndex: 1}}}, `failed to delete check "c1" on node "n1", index is stale`},
		"service on missing node": {&consul.TxnOp{Service: &consul.ServiceTxnOp{Verb: consul.ServiceSet, Node: "ghost",
			Service: consul.AgentService{Service: "svc"}}}, "node not found"},
		"service cas current": {&consul.TxnOp{Service: &consul.ServiceTxnOp{Verb: consul.ServiceCAS, Node: "n1",
			Service: consul.AgentService{ID: "s1", Service: "svc", Port: 81, ModifyIndex: svcIdx}}}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ok, resp, _, err := txn.Txn(consul.TxnOps{tc.op}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if !ok {
					t.Fatalf("failed: %+v", resp.Errors[0])
				}
				return
			}
			if ok || len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].What, tc.want) {
				t.Fatalf("ok=%v errors=%+v, want %q", ok, resp.Errors, tc.want)
			}
		})
	}

	// A failed op rolls back the whole transaction, catalog ops included.
	ok, _, _, err = txn.Txn(consul.TxnOps{
		{Service: &consul.ServiceTxnOp{Verb: consul.ServiceDelete, Node: "n1", Service: consul.AgentService{ID: "s1"}}},
		{KV: &consul.KVTxnOp{Verb: consul.KVCheckNotExists, Key: "k"}},
		{KV: &consul.KVTxnOp{Verb: consul.KVGet, Key: "k"}},
	}, nil)
	if err != nil || ok {
		t.Fatalf("want a failed txn: ok=%v err=%v", ok, err)
	}
	if svcs, _, _ := a.Client.Catalog().Service("svc", "", nil); len(svcs) != 1 || svcs[0].ServicePort != 81 {
		t.Fatalf("service after rolled-back delete: %+v", svcs)
	}
}

// Large health answers are encoded once per index and gzipped when asked;
// a change gives a new answer, never the cached one.
func TestHealthService_CachedAndGzipped(t *testing.T) {
	a := testagent.Start(t)
	for i := 1; i <= 9; i++ {
		registerWeb(t, a, i, "passing", []string{"v1"}, nil)
	}
	get := func(gz bool) (string, string) {
		t.Helper()
		req := newReq(t, a, "GET", "/v1/health/service/web?passing", "")
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Header.Get("Content-Encoding"), string(b)
	}
	enc, zipped := get(true)
	if enc != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", enc)
	}
	enc, plain := get(false)
	if enc != "" || plain != zipped {
		t.Fatalf("plain answer (encoding %q) differs from the gzipped one", enc)
	}
	registerWeb(t, a, 5, "critical", []string{"v1"}, nil)
	if _, after := get(true); after == zipped || strings.Contains(after, `"ID":"web-5"`) {
		t.Fatalf("answer after web-5 turned critical still lists it")
	}
}
