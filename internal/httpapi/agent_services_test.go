package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/internal/config"
	"github.com/musterhq/muster/internal/testagent"
)

// The seed's scenario: a service registers itself with an HTTP check and
// DeregisterCriticalServiceAfter; while its health endpoint answers it is in
// ?passing results; when it stops answering it leaves them, and after the
// deregister interval it leaves the catalog.
func TestAgentService_HTTPCheckLifecycle(t *testing.T) {
	a := testagent.Start(t)
	var healthy atomic.Bool
	healthy.Store(true)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(target.Close)

	err := a.Client.Agent().ServiceRegister(&consul.AgentServiceRegistration{
		ID: "user-1", Name: "UserService", Address: "127.0.0.1", Port: 5726,
		Tags: []string{"v1"}, Meta: map[string]string{"weight": "5"}, Weights: &consul.AgentWeights{Passing: 5, Warning: 1},
		Check: &consul.AgentServiceCheck{
			HTTP: target.URL + "/api/health/index", Interval: "1s", Timeout: "1s",
			DeregisterCriticalServiceAfter: "2s",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	passing := func() int {
		entries, _, err := a.Client.Health().Service("UserService", "", true, nil)
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	testagent.WaitFor(t, 10*time.Second, "the instance to pass", func() bool { return passing() == 1 })

	entries, _, _ := a.Client.Health().Service("UserService", "", true, nil)
	svc, chk := entries[0].Service, entries[0].Checks[len(entries[0].Checks)-1]
	if svc.Weights.Passing != 5 || svc.Meta["weight"] != "5" || chk.CheckID != "service:user-1" ||
		chk.Definition.DeregisterCriticalServiceAfterDuration != 2*time.Second || !strings.Contains(chk.Output, "200 OK") {
		t.Fatalf("instance %+v check %+v", svc, chk)
	}

	healthy.Store(false)
	testagent.WaitFor(t, 10*time.Second, "the instance to leave ?passing", func() bool { return passing() == 0 })
	testagent.WaitFor(t, 15*time.Second, "the critical instance to be deregistered", func() bool {
		cs, _, _ := a.Client.Catalog().Service("UserService", "", nil)
		return len(cs) == 0
	})
	if svcs, _ := a.Client.Agent().Services(); len(svcs) != 0 {
		t.Fatalf("agent still has %v", svcs)
	}
}

func TestAgentCheck_TTLAndHealthEndpoints(t *testing.T) {
	a := testagent.Start(t)
	ag := a.Client.Agent()
	if err := ag.ServiceRegister(&consul.AgentServiceRegistration{ID: "api-1", Name: "api", Port: 80,
		Check: &consul.AgentServiceCheck{CheckID: "api-ttl", TTL: "30s"}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		update func() error
		status string
		code   int
	}{
		{func() error { return ag.PassTTL("api-ttl", "fine") }, "passing", 200},
		{func() error { return ag.WarnTTL("api-ttl", "slow") }, "warning", 429},
		{func() error { return ag.UpdateTTL("api-ttl", "down", "critical") }, "critical", 503},
		{func() error { return ag.EnableServiceMaintenance("api-1", "deploy") }, "maintenance", 503},
		{func() error { return ag.DisableServiceMaintenance("api-1") }, "critical", 503},
	}
	for _, tc := range tests {
		if err := tc.update(); err != nil {
			t.Fatal(err)
		}
		_, info, err := ag.AgentHealthServiceByID("api-1")
		if err != nil {
			t.Fatal(err)
		}
		if info.AggregatedStatus != tc.status {
			t.Fatalf("aggregated status %q, want %q", info.AggregatedStatus, tc.status)
		}
		code, body := do(t, a, "GET", "/v1/agent/health/service/id/api-1?format=text", nil)
		if code != tc.code || body != tc.status {
			t.Fatalf("text answer %d %q, want %d %q", code, body, tc.code, tc.status)
		}
	}
	// The status reaches the catalog through the write path.
	testagent.WaitFor(t, 5*time.Second, "the catalog to see the check critical", func() bool {
		checks, _, _ := a.Client.Health().Checks("api", nil)
		return len(checks) == 1 && checks[0].Status == "critical" && checks[0].Output == "down"
	})

	bad := map[string]struct {
		method, path, body string
		code               int
		want               string
	}{
		"unknown service":   {"PUT", "/v1/agent/service/deregister/nope", "", 404, "unknown service"},
		"unknown check":     {"PUT", "/v1/agent/check/pass/nope", "", 404, "unknown check"},
		"no name":           {"PUT", "/v1/agent/service/register", `{"ID":"x"}`, 400, "missing service name"},
		"two kinds":         {"PUT", "/v1/agent/service/register", `{"Name":"x","Check":{"TTL":"10s","HTTP":"http://a/"}}`, 400, "more than one kind"},
		"no interval":       {"PUT", "/v1/agent/service/register", `{"Name":"x","Check":{"TCP":"127.0.0.1:1"}}`, 400, "Interval"},
		"script disabled":   {"PUT", "/v1/agent/service/register", `{"Name":"x","Check":{"Args":["true"],"Interval":"10s"}}`, 400, "enable_script_checks"},
		"check of nothing":  {"PUT", "/v1/agent/check/register", `{"Name":"c","ServiceID":"ghost","TTL":"10s"}`, 404, "unknown service"},
		"bad update status": {"PUT", "/v1/agent/check/update/api-ttl", `{"Status":"meh"}`, 400, "Invalid check status"},
		"not ttl":           {"PUT", "/v1/agent/maintenance?enable=true", "", 200, ""},
		"maint no enable":   {"PUT", "/v1/agent/service/maintenance/api-1", "", 400, "Missing value for enable"},
		"health of nothing": {"GET", "/v1/agent/health/service/name/ghost", "", 404, ""},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			code, body := do(t, a, tc.method, tc.path, []byte(tc.body))
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("got %d %q, want %d containing %q", code, body, tc.code, tc.want)
			}
		})
	}
	// A maintenance check is not a TTL check.
	if code, body := do(t, a, "PUT", "/v1/agent/check/pass/_node_maintenance", nil); code != 400 || !strings.Contains(body, "not a TTL check") {
		t.Fatalf("pass on maintenance check: %d %q", code, body)
	}
}

// Anti-entropy: the agent is the truth for its node. A service put on the
// agent's node through the catalog is removed, and one of the agent's that
// the catalog lost comes back, at the next full sync.
func TestAntiEntropy_RepairsDrift(t *testing.T) {
	a := testagent.Start(t)
	if err := a.Client.Agent().ServiceRegister(&consul.AgentServiceRegistration{ID: "mine", Name: "mine", Port: 1}); err != nil {
		t.Fatal(err)
	}
	node := a.Config.NodeName
	testagent.WaitFor(t, 5*time.Second, "the service to reach the catalog", func() bool {
		cs, _, _ := a.Client.Catalog().Service("mine", "", nil)
		return len(cs) == 1
	})
	cat := a.Client.Catalog()
	if _, err := cat.Deregister(&consul.CatalogDeregistration{Node: node, ServiceID: "mine"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.Register(&consul.CatalogRegistration{Node: node, Address: "127.0.0.1", SkipNodeUpdate: true,
		Service: &consul.AgentService{ID: "stray", Service: "stray"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.SyncCatalog(); err != nil {
		t.Fatal(err)
	}
	ns, _, err := cat.NodeServiceList(node, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range ns.Services {
		ids = append(ids, s.ID)
	}
	if strings.Join(ids, ",") != "consul,mine" {
		t.Fatalf("services on the agent's node after a full sync: %v", ids)
	}
}

// Service definitions in config files, in Consul's snake_case, register at
// start; PUT /v1/agent/reload applies edits and removals.
func TestAgentService_ConfigFilesAndReload(t *testing.T) {
	path := t.TempDir() + "/services.json"
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"services": [{"id": "user-1", "name": "UserService", "port": 5726, "tags": ["v1"],
		"meta": {"team_name": "users"}, "enable_tag_override": true,
		"check": {"ttl": "30s", "deregister_critical_service_after": "20s", "status": "passing"}}],
		"checks": [{"id": "mem", "name": "Memory", "ttl": "1m", "status": "warning"},
			{"name": "user-extra", "service_id": "user-1", "ttl": "1m"}]}`)
	a := testagent.Start(t, func(c *config.Config) {
		if _, err := c.LoadFile(path); err != nil {
			t.Fatal(err)
		}
	})
	svc, _, err := a.Client.Agent().Service("user-1", nil)
	if err != nil || !svc.EnableTagOverride || svc.Meta["team_name"] != "users" {
		t.Fatalf("config service: %+v %v", svc, err)
	}
	checks, _ := a.Client.Agent().Checks()
	if c := checks["service:user-1"]; c == nil || c.Status != "passing" || c.Definition.DeregisterCriticalServiceAfter.String() != "20s" {
		t.Fatalf("config check: %+v", checks)
	}
	// Top-level checks: a node check, and one attached to a config service.
	if c := checks["mem"]; c == nil || c.Name != "Memory" || c.Status != "warning" || c.ServiceID != "" {
		t.Fatalf("top-level node check: %+v", checks["mem"])
	}
	if c := checks["user-extra"]; c == nil || c.ServiceID != "user-1" {
		t.Fatalf("top-level service check: %+v", checks["user-extra"])
	}

	write(`{"service": {"id": "score-1", "name": "ScoreService", "port": 5001}}`)
	if code, body := do(t, a, "PUT", "/v1/agent/reload", nil); code != 200 {
		t.Fatalf("reload: %d %q", code, body)
	}
	svcs, err := a.Client.Agent().Services()
	if err != nil || len(svcs) != 1 || svcs["score-1"] == nil {
		t.Fatalf("services after reload: %v %v", svcs, err)
	}
	if checks, _ := a.Client.Agent().Checks(); checks["mem"] != nil || checks["user-extra"] != nil {
		t.Fatalf("config checks left after the reload removed them: %v", checks)
	}
	testagent.WaitFor(t, 5*time.Second, "the catalog to follow the reload", func() bool {
		names, _, _ := a.Client.Catalog().Services(nil)
		_, gone := names["UserService"]
		_, there := names["ScoreService"]
		return !gone && there
	})
}

// A full sync of an agent whose catalog rows already match writes nothing:
// anti-entropy must not fight itself (nil versus empty values, defaults the
// store fills in, check definitions).
func TestAntiEntropy_SteadyStateWritesNothing(t *testing.T) {
	a := testagent.Start(t)
	regs := []*consul.AgentServiceRegistration{
		{ID: "bare", Name: "bare"},
		{ID: "full", Name: "full", Tags: []string{"a"}, Meta: map[string]string{"k": "v"}, Port: 80, Address: "10.0.0.1",
			TaggedAddresses: map[string]consul.ServiceAddress{"lan": {Address: "10.0.0.1", Port: 80}},
			Weights:         &consul.AgentWeights{Passing: 3, Warning: 0},
			Checks: consul.AgentServiceChecks{
				{TTL: "1m", Notes: "ttl"},
				{HTTP: "http://127.0.0.1:1/h", Interval: "24h", // no probe during the test, bar a 1-in-80000 stagger
					Header: map[string][]string{"X": {"1"}}, Method: "POST",
					DeregisterCriticalServiceAfter: "1h", SuccessBeforePassing: 2},
			}},
	}
	for _, r := range regs {
		if err := a.Client.Agent().ServiceRegister(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.SyncCatalog(); err != nil {
		t.Fatal(err)
	}
	before := a.FSMState().LatestIndex()
	for range 3 {
		if err := a.SyncCatalog(); err != nil {
			t.Fatal(err)
		}
	}
	if after := a.FSMState().LatestIndex(); after != before {
		t.Fatalf("steady-state full syncs wrote to the log: index %d -> %d", before, after)
	}
}

// Regressions found by a second reading of the registry.
func TestAgentService_Regressions(t *testing.T) {
	a := testagent.Start(t, func(c *config.Config) { c.EnableLocalScriptChecks = true })
	ag := a.Client.Agent()

	// enable_local_script_checks does not open script checks to the API.
	code, body := do(t, a, "PUT", "/v1/agent/service/register",
		[]byte(`{"Name":"s","Check":{"Args":["true"],"Interval":"10s"}}`))
	if code != 400 || !strings.Contains(body, "enable_script_checks") {
		t.Fatalf("API script check with only local script checks: %d %q", code, body)
	}
	// ...and the refused registration left nothing behind.
	if svcs, _ := ag.Services(); len(svcs) != 0 {
		t.Fatalf("refused registration left %v", svcs)
	}
	if entries, _, _ := a.Client.Health().Service("s", "", false, nil); len(entries) != 0 {
		t.Fatalf("refused registration reached the catalog: %v", entries)
	}

	// A check update re-registers its service if the catalog lost it.
	if err := ag.ServiceRegister(&consul.AgentServiceRegistration{ID: "web", Name: "web",
		Check: &consul.AgentServiceCheck{CheckID: "web-ttl", TTL: "1m"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Client.Catalog().Deregister(&consul.CatalogDeregistration{Node: a.Config.NodeName, ServiceID: "web"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := ag.PassTTL("web-ttl", "back"); err != nil {
		t.Fatal(err)
	}
	if entries, _, _ := a.Client.Health().Service("web", "", true, nil); len(entries) != 1 {
		t.Fatalf("service not restored with its passing check: %v", entries)
	}

	// Health endpoints show ServiceTags [] (never null), as Consul does.
	if _, body := do(t, a, "GET", "/v1/health/node/"+a.Config.NodeName, nil); strings.Contains(body, `"ServiceTags":null`) {
		t.Fatalf("null ServiceTags: %s", body)
	}

	// An empty Header compares equal with the catalog's row: no Raft write
	// on every full sync.
	if code, body := do(t, a, "PUT", "/v1/agent/check/register",
		[]byte(`{"Name":"h","HTTP":"http://127.0.0.1:1/","Interval":"24h","Header":{}}`)); code != 200 {
		t.Fatalf("register: %d %q", code, body)
	}
	if err := a.SyncCatalog(); err != nil {
		t.Fatal(err)
	}
	before := a.FSMState().LatestIndex()
	if err := a.SyncCatalog(); err != nil {
		t.Fatal(err)
	}
	if after := a.FSMState().LatestIndex(); after != before {
		t.Fatalf("full sync wrote again: index %d -> %d", before, after)
	}
}

// EnableTagOverride: tags changed in the catalog survive anti-entropy and
// become the agent's; without it the agent's tags are restored.
func TestAntiEntropy_EnableTagOverride(t *testing.T) {
	a := testagent.Start(t)
	for _, r := range []*consul.AgentServiceRegistration{
		{ID: "open", Name: "open", Tags: []string{"a"}, EnableTagOverride: true},
		{ID: "closed", Name: "closed", Tags: []string{"a"}},
	} {
		if err := a.Client.Agent().ServiceRegister(r); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Client.Catalog().Register(&consul.CatalogRegistration{Node: a.Config.NodeName, SkipNodeUpdate: true,
			Service: &consul.AgentService{ID: r.ID, Service: r.Name, Tags: []string{"b"}, EnableTagOverride: r.EnableTagOverride,
				Weights: consul.AgentWeights{Passing: 1, Warning: 1}}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.SyncCatalog(); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"open": "b", "closed": "a"} {
		cs, _, err := a.Client.Catalog().Service(id, "", nil)
		if err != nil || len(cs) != 1 || strings.Join(cs[0].ServiceTags, ",") != want {
			t.Errorf("%s: catalog tags %v (err %v), want [%s]", id, cs, err, want)
		}
		if svc, _, _ := a.Client.Agent().Service(id, nil); svc == nil || strings.Join(svc.Tags, ",") != want {
			t.Errorf("%s: agent tags %+v, want [%s]", id, svc, want)
		}
	}
}

// Maintenance on and off is in the catalog when the call returns.
func TestAgentService_MaintenanceReachesCatalogBeforeAnswer(t *testing.T) {
	a := testagent.Start(t)
	ag := a.Client.Agent()
	if err := ag.ServiceRegister(&consul.AgentServiceRegistration{ID: "m", Name: "m",
		Check: &consul.AgentServiceCheck{TTL: "1m", Status: "passing"}}); err != nil {
		t.Fatal(err)
	}
	passing := func() int {
		e, _, err := a.Client.Health().Service("m", "", true, nil)
		if err != nil {
			t.Fatal(err)
		}
		return len(e)
	}
	for _, tc := range []struct {
		toggle func() error
		want   int
	}{
		{func() error { return ag.EnableServiceMaintenance("m", "deploy") }, 0},
		{func() error { return ag.DisableServiceMaintenance("m") }, 1},
		{func() error { return ag.EnableNodeMaintenance("rack") }, 0},
		{func() error { return ag.DisableNodeMaintenance() }, 1},
	} {
		if err := tc.toggle(); err != nil {
			t.Fatal(err)
		}
		if got := passing(); got != tc.want {
			t.Fatalf("passing instances right after the call: %d, want %d", got, tc.want)
		}
	}
}

// GET /v1/agent/service/{id}?hash=H blocks until the service changes, as
// Consul's does (consul-template and proxies watch it).
func TestAgentService_BlockingOnHash(t *testing.T) {
	a := testagent.Start(t)
	ag := a.Client.Agent()
	reg := &consul.AgentServiceRegistration{ID: "h", Name: "h", Tags: []string{"v1"}}
	if err := ag.ServiceRegister(reg); err != nil {
		t.Fatal(err)
	}
	_, meta, err := ag.Service("h", nil)
	if err != nil || meta.LastContentHash == "" {
		t.Fatalf("hash %q, %v", meta.LastContentHash, err)
	}
	// An unchanged service answers with the same hash when the wait ends.
	_, same, err := ag.Service("h", &consul.QueryOptions{WaitHash: meta.LastContentHash, WaitTime: 50 * time.Millisecond})
	if err != nil || same.LastContentHash != meta.LastContentHash {
		t.Fatalf("after an idle wait: %q, %v", same.LastContentHash, err)
	}
	type answer struct {
		svc  *consul.AgentService
		hash string
	}
	ch := make(chan answer, 1)
	go func() {
		svc, m, err := ag.Service("h", &consul.QueryOptions{WaitHash: meta.LastContentHash, WaitTime: 30 * time.Second})
		if err != nil {
			t.Error(err)
		}
		ch <- answer{svc, m.LastContentHash}
	}()
	reg.Tags = []string{"v2"}
	if err := ag.ServiceRegister(reg); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ch:
		if got.hash == meta.LastContentHash || got.svc.Tags[0] != "v2" {
			t.Fatalf("woke with hash %q tags %v", got.hash, got.svc.Tags)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the blocking read did not wake on the change")
	}
}
