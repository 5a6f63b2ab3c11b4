package ui_test

import (
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/internal/testagent"
)

// Tests of the Nodes pages (pages/nodes.js); helpers are in
// services_test.go.

// snNodeCheck registers a node-level TTL check on b's agent.
func snNodeCheck(t *testing.T, b *browser, id, status, output string) {
	t.Helper()
	ag := b.agent.Client.Agent()
	err := ag.CheckRegister(&consul.AgentCheckRegistration{
		ID: id, Name: id,
		AgentServiceCheck: consul.AgentServiceCheck{TTL: "5m", Status: status},
	})
	if err == nil && output != "" {
		err = ag.UpdateTTL(id, output, status)
	}
	if err != nil {
		t.Fatalf("check %s: %v", id, err)
	}
}

func TestNodesList(t *testing.T) {
	b := newBrowser(t, nil, 1280, 800)
	snRegister(t, b,
		snTTL("web", "web-1", "passing", "", "v1"),
		snTTL("web", "web-2", "passing", "", "v1"),
		snTTL("api", "api-1", "warning", ""),
	)
	snNodeCheck(t, b, "disk", "critical", "disk 97% full")
	name := b.agent.Config.NodeName
	row := `#nodes tr[data-node="` + name + `"]`
	b.open(t, "#/nodes", row)

	tests := map[string]struct{ sel, want string }{
		"address":  {row + ` td:nth-child(2)`, "127.0.0.1"},
		"role":     {row + ` [data-role]`, "server"},
		"gossip":   {row + ` [data-gossip]`, "alive"},
		"leader":   {row + ` [data-leader]`, "leader"},
		"services": {row + ` .node-services`, "web ×2"},
		"warning":  {row + ` [data-service="api"]`, "api"},
		"checks":   {row + ` .node-checks`, "1 critical"},
		"passing":  {row + ` .node-checks`, "3 passing"}, // serfHealth, web-1, web-2
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { b.waitText(t, tc.sel, tc.want, 10*time.Second) })
	}
	var status string
	b.eval(t, `document.querySelector('`+row+` [data-service="api"]').dataset.status`, &status)
	if status != "critical" { // the node's disk check makes every instance on it critical
		t.Errorf("api on %s: status %q, want critical", name, status)
	}

	// Checks and services follow the agent without a reload.
	mark := snMark(t, b)
	if err := b.agent.Client.Agent().UpdateTTL("disk", "disk 40% full", "passing"); err != nil {
		t.Fatal(err)
	}
	b.waitText(t, row+` .node-checks`, "4 passing", 10*time.Second)
	b.waitJS(t, "page state", `document.querySelector('`+row+` [data-service="web"]').dataset.status === 'passing'`, true, 10*time.Second)
	snRegister(t, b, snTTL("cache", "cache-1", "passing", ""))
	b.waitText(t, row+` .node-services`, "cache", 10*time.Second)
	snAssertNotReloaded(t, b, mark)
	b.screenshot(t, "nodes")
}

func TestNodeDetail(t *testing.T) {
	b := newBrowser(t, nil, 1280, 800)
	snRegister(t, b,
		snTTL("web", "web-1", "passing", "", "v1", "http"),
		snTTL("db", "db-1", "passing", "", "primary"),
	)
	snNodeCheck(t, b, "disk", "passing", "disk 40% full")
	name := b.agent.Config.NodeName
	b.open(t, "#/nodes/"+name, `#node-service-table tr[data-instance="web-1"]`)

	tests := map[string]struct{ sel, want string }{
		"role":       {`#node-info [data-field="role"]`, "server"},
		"gossip":     {`#node-info [data-field="gossip"]`, "alive"},
		"address":    {`#node-info [data-field="address"]`, "127.0.0.1"},
		"leader":     {`#node-mark`, "leader"},
		"service":    {`#node-service-table tr[data-instance="db-1"]`, "primary"},
		"port":       {`#node-service-table tr[data-instance="db-1"]`, "127.0.0.1:8080"},
		"serf":       {`#node-checks tr[data-check="serfHealth"]`, "Agent alive and reachable"},
		"node check": {`#node-checks tr[data-check="disk"]`, "disk 40% full"},
		"svc check":  {`#node-checks tr[data-check="web-1-ttl"]`, "web"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { b.waitText(t, tc.sel, tc.want, 10*time.Second) })
	}

	// A failing check shows at once, with the time the page saw it change.
	mark := snMark(t, b)
	if err := b.agent.Client.Agent().FailTTL("db-1-ttl", "connection refused"); err != nil {
		t.Fatal(err)
	}
	b.waitText(t, `#node-checks tr[data-check="db-1-ttl"] .badge`, "critical", 10*time.Second)
	b.waitText(t, `#node-checks tr[data-check="db-1-ttl"]`, "connection refused", 5*time.Second)
	b.waitText(t, `#node-checks tr[data-check="db-1-ttl"] .last-change`, "changed", 5*time.Second)
	b.waitText(t, `#node-service-table tr[data-instance="db-1"] .badge`, "critical", 5*time.Second)
	snAssertNotReloaded(t, b, mark)
	b.screenshot(t, "node-detail")
}

func TestNodeUnknown(t *testing.T) {
	b := newBrowser(t, nil, 1280, 800)
	b.open(t, "#/nodes/nope", "#node-info")
	b.waitText(t, "#node-info", "not in the catalog", 10*time.Second)
	b.waitText(t, "#node-services", "Not in the catalog", 10*time.Second)
}

// TestNodesCluster: in a cluster, the page tells servers from clients and
// marks only the leader, whichever agent serves the UI.
func TestNodesCluster(t *testing.T) {
	c := testagent.StartCluster(t, 1, 1)
	b := newBrowser(t, c.Clients[0], 1280, 800)
	b.open(t, "#/nodes", `#nodes tr[data-node="s1"]`)
	tests := map[string]struct{ sel, want string }{
		"server":        {`tr[data-node="s1"] [data-role]`, "server"},
		"leader":        {`tr[data-node="s1"] [data-leader]`, "leader"},
		"client":        {`tr[data-node="c1"] [data-role]`, "client"},
		"client alive":  {`tr[data-node="c1"] [data-gossip]`, "alive"},
		"server alive":  {`tr[data-node="s1"] [data-gossip]`, "alive"},
		"consul on s1":  {`tr[data-node="s1"] .node-services`, "consul"},
		"serf on c1":    {`tr[data-node="c1"] .node-checks`, "1 passing"},
		"client in row": {`tr[data-node="c1"]`, "c1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { b.waitText(t, tc.sel, tc.want, 15*time.Second) })
	}
	var leaders int
	b.eval(t, `document.querySelectorAll('#nodes tr[data-leader="true"]').length`, &leaders)
	if leaders != 1 {
		t.Errorf("%d rows marked leader, want 1", leaders)
	}
	b.screenshot(t, "nodes-cluster")
}
