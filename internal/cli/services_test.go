package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/internal/testagent"
)

// writeFile writes data to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// agentService returns the service with the ID as the agent reports it,
// failing the test if it is not registered.
func agentService(t *testing.T, c *api.Client, id string) *consulapi.AgentService {
	t.Helper()
	svc, _, err := c.Agent().Service(id, nil)
	if err != nil {
		t.Fatalf("agent service %s: %v", id, err)
	}
	return svc
}

// registered reports whether the agent has a service with the ID.
func registered(t *testing.T, c *api.Client, id string) bool {
	t.Helper()
	svcs, err := c.Agent().Services()
	if err != nil {
		t.Fatal(err)
	}
	_, ok := svcs[id]
	return ok
}

func TestServicesRegister(t *testing.T) {
	a := testagent.Start(t)
	dir := t.TempDir()

	// testcase runs `muster services register -http-addr=A ARGS...`, where
	// an argument "@name" is replaced by the path of files[name], and checks
	// the exit code, the output and, with check, the agent.
	type testcase struct {
		files    map[string]string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string // stderr must contain it
		check    func(t *testing.T, c *api.Client)
	}
	run := func(t *testing.T, tc testcase) {
		args := []string{"services", "register", "-http-addr=" + a.Addr}
		for _, arg := range tc.args {
			if name, ok := strings.CutPrefix(arg, "@"); ok {
				arg = filepath.Join(dir, name)
			}
			args = append(args, arg)
		}
		for name, data := range tc.files {
			writeFile(t, dir, name, data)
		}
		r := runCLI(context.Background(), args...)
		if r.code != tc.wantCode {
			t.Errorf("exit code = %d, want %d (stderr %q)", r.code, tc.wantCode, r.err)
		}
		if r.out != tc.wantOut {
			t.Errorf("stdout = %q, want %q", r.out, tc.wantOut)
		}
		if !strings.Contains(r.err, tc.wantErr) || tc.wantErr == "" && r.err != "" {
			t.Errorf("stderr = %q, want %q", r.err, tc.wantErr)
		}
		if tc.check != nil {
			tc.check(t, a.Client)
		}
	}
	notRegistered := func(ids ...string) func(t *testing.T, c *api.Client) {
		return func(t *testing.T, c *api.Client) {
			for _, id := range ids {
				if registered(t, c, id) {
					t.Errorf("service %s is registered, want not", id)
				}
			}
		}
	}

	cases := map[string]testcase{
		"from flags": {
			args: []string{
				"-name=web", "-id=web-1", "-address=10.0.0.5", "-port=8080", "-tag=v1", "-tag=blue",
				"-meta=team=payments", "-meta=url=http://x/?a=b", "-tagged-address=lan_ipv4=10.0.0.5:8080",
			},
			wantOut: "Registered service: web\n",
			check: func(t *testing.T, c *api.Client) {
				svc := agentService(t, c, "web-1")
				if svc.Service != "web" || svc.Address != "10.0.0.5" || svc.Port != 8080 {
					t.Errorf("service = %s at %s:%d, want web at 10.0.0.5:8080", svc.Service, svc.Address, svc.Port)
				}
				if !slices.Equal(svc.Tags, []string{"v1", "blue"}) {
					t.Errorf("tags = %q, want [v1 blue]", svc.Tags)
				}
				if svc.Meta["team"] != "payments" || svc.Meta["url"] != "http://x/?a=b" {
					t.Errorf("meta = %v", svc.Meta)
				}
				if ta := svc.TaggedAddresses["lan_ipv4"]; ta.Address != "10.0.0.5" || ta.Port != 8080 {
					t.Errorf("tagged addresses = %v", svc.TaggedAddresses)
				}
			},
		},
		"ID defaults to the name": {
			args:    []string{"-name=cache"},
			wantOut: "Registered service: cache\n",
			check: func(t *testing.T, c *api.Client) {
				if svc := agentService(t, c, "cache"); svc.Service != "cache" {
					t.Errorf("service = %+v", svc)
				}
			},
		},
		"snake_case file": {
			files: map[string]string{"db.json": `{
				"service": {
					"name": "db", "id": "db-1", "port": 5432, "tags": ["primary"],
					"meta": {"schema_version": "7"},
					"tagged_addresses": {"lan_ipv4": {"address": "10.0.0.7", "port": 5432}},
					"enable_tag_override": true,
					"weights": {"passing": 3, "warning": 1},
					"check": {
						"id": "db-ttl", "name": "db alive", "ttl": "30s",
						"deregister_critical_service_after": "90m"
					}
				}
			}`},
			args:    []string{"@db.json"},
			wantOut: "Registered service: db\n",
			check: func(t *testing.T, c *api.Client) {
				svc := agentService(t, c, "db-1")
				if svc.Service != "db" || svc.Port != 5432 || !svc.EnableTagOverride || svc.Weights.Passing != 3 {
					t.Errorf("service = %+v", svc)
				}
				if svc.Meta["schema_version"] != "7" {
					t.Errorf("meta = %v, want the key schema_version kept as written", svc.Meta)
				}
				if ta := svc.TaggedAddresses["lan_ipv4"]; ta.Address != "10.0.0.7" || ta.Port != 5432 {
					t.Errorf("tagged addresses = %v, want lan_ipv4 kept as written", svc.TaggedAddresses)
				}
				checks, err := c.Agent().Checks()
				if err != nil {
					t.Fatal(err)
				}
				chk := checks["db-ttl"]
				if chk == nil || chk.Name != "db alive" || chk.ServiceID != "db-1" || chk.Type != "ttl" {
					t.Errorf("check db-ttl = %+v, want the file's TTL check", chk)
				}
			},
		},
		"CamelCase file with a list, and flags filling in": {
			files: map[string]string{"two.json": `{"services": [
				{"Name": "api", "ID": "api-1", "Port": 9000, "Tags": ["v2"]},
				{"Name": "worker", "Meta": {"q": "jobs"}}
			]}`},
			args:    []string{"-address=10.1.1.1", "-port=7000", "-tag=extra", "-meta=team=core", "@two.json"},
			wantOut: "Registered service: api\nRegistered service: worker\n",
			check: func(t *testing.T, c *api.Client) {
				apiSvc := agentService(t, c, "api-1")
				if apiSvc.Port != 9000 || apiSvc.Address != "10.1.1.1" || !slices.Equal(apiSvc.Tags, []string{"v2", "extra"}) {
					t.Errorf("api = %+v, want the file's port, the flags' address and both tags", apiSvc)
				}
				worker := agentService(t, c, "worker")
				if worker.Port != 7000 || worker.Meta["q"] != "jobs" || worker.Meta["team"] != "core" {
					t.Errorf("worker = %+v, want the flags' port and both meta keys", worker)
				}
			},
		},
		"nothing to register": {
			wantCode: 1,
			wantErr:  "requires at least one FILE argument or -name",
		},
		"ID without a name": {
			args:     []string{"-id=orphan"},
			wantCode: 1,
			wantErr:  "requires at least one FILE argument or -name",
			check:    notRegistered("orphan"),
		},
		"name and a file": {
			files:    map[string]string{"n.json": `{"service": {"name": "n"}}`},
			args:     []string{"-name=n2", "@n.json"},
			wantCode: 1,
			wantErr:  "requires arguments or -name, not both",
			check:    notRegistered("n", "n2"),
		},
		"unreadable file": {
			args:     []string{"@missing.json"},
			wantCode: 1,
			wantErr:  "missing.json: no such file or directory",
		},
		"HCL file": {
			files:    map[string]string{"web.hcl": `service { name = "hcl" }`},
			args:     []string{"@web.hcl"},
			wantCode: 1,
			wantErr:  "web.hcl: HCL service definitions are not supported; use JSON",
			check:    notRegistered("hcl"),
		},
		"HCL in a file not named .hcl": {
			files:    map[string]string{"web.conf": `service { name = "hcl" }`},
			args:     []string{"@web.conf"},
			wantCode: 1,
			wantErr:  "web.conf: not valid JSON (HCL is not supported)",
		},
		"file without a name": {
			files:    map[string]string{"anon.json": `{"service": {"port": 80}}`},
			args:     []string{"@anon.json"},
			wantCode: 1,
			wantErr:  "anon.json: service: missing name",
		},
		"misspelt key": {
			files:    map[string]string{"typo.json": `{"service": {"name": "typo", "tgas": ["a"]}}`},
			args:     []string{"@typo.json"},
			wantCode: 1,
			wantErr:  `typo.json: service: unknown key "tgas"`,
			check:    notRegistered("typo"),
		},
		"a bad file stops every registration": {
			files: map[string]string{
				"good.json": `{"service": {"name": "good"}}`,
				"bad.json":  `{"services": [{"name": "ok"}, {"name": "bad", "port": "eighty"}]}`,
			},
			args:     []string{"@good.json", "@bad.json"},
			wantCode: 1,
			wantErr:  "bad.json: services[1]: json: cannot unmarshal string",
			check:    notRegistered("good", "ok", "bad"),
		},
		"bad meta flag": {
			args:     []string{"-name=m", "-meta=novalue"},
			wantCode: 1,
			wantErr:  `missing "=" value in argument: novalue`,
		},
		"bad tagged address": {
			args:     []string{"-name=t", "-tagged-address=lan=10.0.0.1"},
			wantCode: 1,
			wantErr:  "Invalid Tagged Address",
		},
		"refused by the agent": {
			args:     []string{"-name=big", "-port=70000"},
			wantCode: 1,
			wantErr:  `Error registering service "big"`,
			check:    notRegistered("big"),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func TestServicesDeregister(t *testing.T) {
	a := testagent.Start(t)
	dir := t.TempDir()
	register := func(t *testing.T, ids ...string) {
		t.Helper()
		for _, id := range ids {
			name, _, _ := strings.Cut(id, "-")
			if err := a.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{ID: id, Name: name}); err != nil {
				t.Fatal(err)
			}
		}
	}
	type testcase struct {
		registered []string // service IDs; the name is the part before "-"
		file       string   // contents of FILE, passed after args when set
		args       []string
		wantCode   int
		wantOut    string
		wantErr    string
		gone       []string
		kept       []string
	}
	run := func(t *testing.T, tc testcase) {
		register(t, tc.registered...)
		args := append([]string{"services", "deregister", "-http-addr=" + a.Addr}, tc.args...)
		if tc.file != "" {
			args = append(args, writeFile(t, dir, strings.ReplaceAll(t.Name(), "/", "_")+".json", tc.file))
		}
		r := runCLI(context.Background(), args...)
		if r.code != tc.wantCode || r.out != tc.wantOut {
			t.Errorf("exit %d, stdout %q; want %d, %q", r.code, r.out, tc.wantCode, tc.wantOut)
		}
		if !strings.Contains(r.err, tc.wantErr) || tc.wantErr == "" && r.err != "" {
			t.Errorf("stderr = %q, want %q", r.err, tc.wantErr)
		}
		for _, id := range tc.gone {
			if registered(t, a.Client, id) {
				t.Errorf("%s is still registered", id)
			}
		}
		for _, id := range tc.kept {
			if !registered(t, a.Client, id) {
				t.Errorf("%s was deregistered", id)
			}
		}
	}
	cases := map[string]testcase{
		"by ID": {
			registered: []string{"web-1", "web-2"},
			args:       []string{"-id=web-1"},
			wantOut:    "Deregistered service: web-1\n",
			gone:       []string{"web-1"},
			kept:       []string{"web-2"},
		},
		"by file, ID or else name": {
			registered: []string{"db-1", "cache"},
			file:       `{"services": [{"name": "db", "id": "db-1"}, {"name": "cache", "port": 1}]}`,
			wantOut:    "Deregistered service: db-1\nDeregistered service: cache\n",
			gone:       []string{"db-1", "cache"},
		},
		"unknown ID": {
			args:     []string{"-id=nope"},
			wantCode: 1,
			wantErr:  `Error deregistering service "nope"`,
		},
		"neither ID nor file": {
			wantCode: 1,
			wantErr:  "requires at least one argument or -id",
		},
		"both ID and file": {
			registered: []string{"q-1"},
			args:       []string{"-id=q-1"},
			file:       `{"service": {"name": "q", "id": "q-1"}}`,
			wantCode:   1,
			wantErr:    "requires arguments or -id, not both",
			kept:       []string{"q-1"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}
