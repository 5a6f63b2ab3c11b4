package httpapi_test

import (
	"strings"
	"testing"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/internal/testagent"
)

func TestCatalog_RegisterAndSessionChecks(t *testing.T) {
	a := testagent.Start(t)
	cat := a.Client.Catalog()
	_, err := cat.Register(&consul.CatalogRegistration{
		Node: "foo", Address: "127.0.0.2",
		Service: &consul.AgentService{ID: "redis1", Service: "redis", Port: 6379},
		Checks: consul.HealthChecks{
			{CheckID: "foo:alive", Name: "node alive", Status: "passing"},
			{CheckID: "redis:alive", Name: "redis alive", Status: "passing", ServiceID: "redis1"},
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checks, _, _ := a.Client.Health().Node("foo", nil)
	if len(checks) != 2 || checks[1].ServiceName != "redis" {
		t.Fatalf("checks on foo: %+v", checks)
	}
	sid, _, err := a.Client.Session().Create(&consul.SessionEntry{Node: "foo",
		NodeChecks: []string{"foo:alive"}, ServiceChecks: []consul.ServiceCheck{{ID: "redis:alive"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Deregistering a check a session is bound to invalidates the session.
	if _, err := cat.Deregister(&consul.CatalogDeregistration{Node: "foo", CheckID: "redis:alive"}, nil); err != nil {
		t.Fatal(err)
	}
	if info, _, _ := a.Client.Session().Info(sid, nil); info != nil {
		t.Fatalf("session survived its check: %+v", info)
	}
	// Deregistering the node takes its service and checks with it.
	if _, err := cat.Deregister(&consul.CatalogDeregistration{Node: "foo"}, nil); err != nil {
		t.Fatal(err)
	}
	nodes, _, _ := cat.Nodes(nil)
	if len(nodes) != 1 || nodes[0].Node == "foo" {
		t.Fatalf("nodes after deregister: %+v", nodes)
	}
	if checks, _, _ := a.Client.Health().Node("foo", nil); len(checks) != 0 {
		t.Fatalf("checks left: %+v", checks)
	}
}

func TestCatalog_RegisterBadInput(t *testing.T) {
	a := testagent.Start(t)
	tests := map[string]struct {
		body string
		want string
	}{
		"no node":         {`{"Address":"1.2.3.4"}`, "Must provide node"},
		"no address":      {`{"Node":"n"}`, "Must provide address"},
		"service no name": {`{"Node":"n","Address":"1.2.3.4","Service":{"ID":"x"}}`, "service name"},
		"bad port":        {`{"Node":"n","Address":"1.2.3.4","Service":{"Service":"s","Port":70000}}`, "port"},
		"bad status":      {`{"Node":"n","Address":"1.2.3.4","Check":{"CheckID":"c","Status":"fine"}}`, "invalid status"},
		"check of no svc": {`{"Node":"n","Address":"1.2.3.4","Check":{"CheckID":"c","ServiceID":"nope"}}`, "names service"},
		"malformed":       {`{"Node":`, "decode failed"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			status, body := do(t, a, "PUT", "/v1/catalog/register", []byte(tc.body))
			if status != 400 || !strings.Contains(body, tc.want) {
				t.Fatalf("got %d %q, want 400 containing %q", status, body, tc.want)
			}
		})
	}
	// All or nothing: the refused registrations left no node behind.
	if nodes, _, _ := a.Client.Catalog().Nodes(nil); len(nodes) != 1 {
		t.Fatalf("nodes: %+v", nodes)
	}
	// SkipNodeUpdate leaves an existing node alone but creates a missing
	// one, as in Consul (its clients register services on a node in any
	// order).
	for _, body := range []string{
		`{"Node":"late","SkipNodeUpdate":true,"Service":{"Service":"s"}}`,
		`{"Node":"late","Address":"10.1.1.1","NodeMeta":{"k":"v"}}`,
		`{"Node":"late","Address":"10.9.9.9","SkipNodeUpdate":true,"Service":{"Service":"t"}}`,
	} {
		if status, resp := do(t, a, "PUT", "/v1/catalog/register", []byte(body)); status != 200 {
			t.Fatalf("register %s: %d %q", body, status, resp)
		}
	}
	n, _, err := a.Client.Catalog().Node("late", nil)
	if err != nil || n.Node.Address != "10.1.1.1" || n.Node.Meta["k"] != "v" || len(n.Services) != 2 {
		t.Fatalf("node late: %+v %v", n, err)
	}
}
