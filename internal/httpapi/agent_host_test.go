package httpapi_test

import (
	"strings"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/internal/testagent"
)

func TestAgentMetrics_JSONAndPrometheus(t *testing.T) {
	a := testagent.Start(t)
	if _, err := a.Client.KV().Put(&consul.KVPair{Key: "m", Value: []byte("1")}, nil); err != nil {
		t.Fatal(err)
	}
	m, err := a.Client.Agent().Metrics()
	if err != nil {
		t.Fatal(err)
	}
	var puts int
	for _, c := range m.Counters {
		if c.Name == "muster_http_requests_total" && c.Labels["route"] == "PUT /v1/kv/{key...}" && c.Labels["code"] == "200" {
			puts = c.Count
		}
	}
	leader := float32(-1)
	for _, g := range m.Gauges {
		if g.Name == "muster_raft_leader" {
			leader = g.Value
		}
	}
	if puts != 1 || leader != 1 {
		t.Fatalf("kv put count %d (want 1), leader gauge %v (want 1)", puts, leader)
	}
	code, body := do(t, a, "GET", "/v1/agent/metrics?format=prometheus", nil)
	if code != 200 || !strings.Contains(body, `muster_http_requests_total{code="200",method="PUT",route="PUT /v1/kv/{key...}"} 1`) ||
		!strings.Contains(body, "go_goroutines") {
		t.Fatalf("prometheus answer %d:\n%.2000s", code, body)
	}
}

func TestAgentHost(t *testing.T) {
	a := testagent.Start(t)
	h, err := a.Client.Agent().Host()
	if err != nil {
		t.Fatal(err)
	}
	mem, _ := h["Memory"].(map[string]any)
	host, _ := h["Host"].(map[string]any)
	if mem["total"].(float64) <= 0 || host["hostname"] == "" {
		t.Fatalf("host: %+v", h)
	}
}

func TestAgentMonitor_StreamsLogLines(t *testing.T) {
	a := testagent.Start(t)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	lines, err := a.Client.Agent().Monitor("info", stop, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Any info line will do: a reload logs one. Keep reloading until the
	// stream (subscribed asynchronously) shows it.
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case line := <-lines:
			if strings.Contains(line, "reloaded service definitions") {
				if !strings.Contains(line, "[INFO]") {
					t.Fatalf("line without its level: %q", line)
				}
				return
			}
		case <-tick.C:
			do(t, a, "PUT", "/v1/agent/reload", nil)
		case <-deadline:
			t.Fatal("no log line reached the monitor")
		}
	}
}

func TestAgentMonitor_BadLevel(t *testing.T) {
	a := testagent.Start(t)
	if code, body := do(t, a, "GET", "/v1/agent/monitor?loglevel=loud", nil); code != 400 || !strings.Contains(body, "Unknown log level") {
		t.Fatalf("got %d %q", code, body)
	}
}
