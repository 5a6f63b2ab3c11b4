package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/internal/config"
	"github.com/musterhq/muster/internal/testagent"
)

// cells splits a table row at the columns of header, whose headings start
// where their cells do (cells may hold spaces, as the detailed node table's
// "lan=..., wan=..." do). It fails the test if a cell does not start
// exactly under its heading after two spaces of padding.
func cells(t *testing.T, header, row string) []string {
	t.Helper()
	headings := strings.Fields(header)
	starts := make([]int, len(headings))
	for i, h := range headings {
		starts[i] = strings.Index(header, h)
	}
	out := make([]string, len(headings))
	for i, start := range starts {
		if start > len(row) || i > 0 && (row[start-2:start] != "  " || start < len(row) && row[start] == ' ') {
			t.Fatalf("column %s is not aligned:\n%s\n%s", headings[i], header, row)
		}
		end := len(row)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		out[i] = strings.TrimSpace(row[start:min(end, len(row))])
	}
	return out
}

func TestCatalog(t *testing.T) {
	a := testagent.Start(t, func(c *config.Config) { c.NodeMeta = map[string]string{"rack": "r1"} })
	for _, svc := range []*consulapi.AgentServiceRegistration{
		{ID: "web-1", Name: "web", Port: 80, Tags: []string{"v1", "blue"}},
		{ID: "web-2", Name: "web", Port: 81, Tags: []string{"v1"}},
		{ID: "db", Name: "db", Port: 5432},
	} {
		if err := a.Client.Agent().ServiceRegister(svc); err != nil {
			t.Fatal(err)
		}
	}
	nodes, _, err := a.Client.Catalog().Nodes(nil)
	if err != nil || len(nodes) != 1 {
		t.Fatalf("catalog nodes: %v, %v", nodes, err)
	}
	node := nodes[0]
	shortID, _, _ := strings.Cut(node.ID, "-")
	if node.Node != a.Config.NodeName || shortID == "" || shortID == node.ID {
		t.Fatalf("node = %+v, want %s with a UUID", node, a.Config.NodeName)
	}

	// testcase runs `muster catalog ARGS...` against the agent; check gets
	// stdout split into lines.
	type testcase struct {
		args     []string // subcommand first
		wantCode int
		wantErr  string // stderr must contain it
		wantOut  string // stdout, unless check is set
		check    func(t *testing.T, lines []string)
	}
	run := func(t *testing.T, tc testcase) {
		args := append([]string{"catalog", tc.args[0], "-http-addr=" + a.Addr}, tc.args[1:]...)
		r := runCLI(context.Background(), args...)
		if r.code != tc.wantCode {
			t.Errorf("exit code = %d, want %d (stderr %q)", r.code, tc.wantCode, r.err)
		}
		if !strings.Contains(r.err, tc.wantErr) || tc.wantErr == "" && r.err != "" {
			t.Errorf("stderr = %q, want %q", r.err, tc.wantErr)
		}
		if tc.check != nil {
			tc.check(t, strings.Split(strings.TrimSuffix(r.out, "\n"), "\n"))
		} else if r.out != tc.wantOut {
			t.Errorf("stdout = %q, want %q", r.out, tc.wantOut)
		}
	}
	// table checks the standard nodes table: the header and this node.
	table := func(t *testing.T, lines []string) {
		if len(lines) != 2 {
			t.Fatalf("output = %q, want a header and one node", lines)
		}
		got := cells(t, lines[0], lines[1])
		want := []string{node.Node, shortID, node.Address, a.Config.Datacenter}
		if h := strings.Join(strings.Fields(lines[0]), " "); h != "Node ID Address DC" {
			t.Errorf("header = %q, want Node ID Address DC", lines[0])
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("row = %q, want %q", got, want)
		}
	}
	filterFile := filepath.Join(t.TempDir(), "filter")
	if err := os.WriteFile(filterFile, []byte(`Meta.rack == "r1"`), 0o600); err != nil {
		t.Fatal(err)
	}
	const noNodes = "No nodes match the given query - try expanding your search."
	const noServices = "No services match the given query - try expanding your search."

	cases := map[string]testcase{
		"datacenters": {args: []string{"datacenters"}, wantOut: a.Config.Datacenter + "\n"},
		"datacenters with an argument": {
			args:     []string{"datacenters", "extra"},
			wantCode: 1,
			wantErr:  "Too many arguments (expected 0, got 1)",
		},

		"nodes":                       {args: []string{"nodes"}, check: table},
		"nodes near is ignored":       {args: []string{"nodes", "-near=_agent"}, check: table},
		"nodes providing a service":   {args: []string{"nodes", "-service=web"}, check: table}, // once, for two instances
		"nodes with matching meta":    {args: []string{"nodes", "-node-meta=rack=r1"}, check: table},
		"nodes matching a filter":     {args: []string{"nodes", `-filter=Meta.rack == "r1"`}, check: table},
		"nodes filter from a file":    {args: []string{"nodes", "-filter=@" + filterFile}, check: table},
		"service instances filtered":  {args: []string{"nodes", "-service=web", `-filter=ServicePort == 81`}, check: table},
		"nodes of an unknown service": {args: []string{"nodes", "-service=nope"}, wantErr: noNodes},
		"nodes with other meta":       {args: []string{"nodes", "-node-meta=rack=r2"}, wantErr: noNodes},
		"nodes failing a filter":      {args: []string{"nodes", `-filter=Meta.rack == "r2"`}, wantErr: noNodes},
		"nodes with a bad filter": {
			args:     []string{"nodes", "-filter=Node =="},
			wantCode: 1,
			wantErr:  "Error listing nodes: Unexpected response code: 400",
		},
		"nodes detailed": {
			args: []string{"nodes", "-detailed"},
			check: func(t *testing.T, lines []string) {
				if len(lines) != 2 {
					t.Fatalf("output = %q, want a header and one node", lines)
				}
				if h := strings.Join(strings.Fields(lines[0]), " "); h != "Node ID Address DC TaggedAddresses Meta" {
					t.Errorf("header = %q", lines[0])
				}
				got := cells(t, lines[0], lines[1])
				if got[0] != node.Node || got[1] != node.ID || got[3] != a.Config.Datacenter {
					t.Errorf("row = %q, want the node's name, full ID and DC", got)
				}
				if want := "lan=" + node.TaggedAddresses["lan"] + ", "; !strings.HasPrefix(got[4], want) {
					t.Errorf("tagged addresses = %q, want them sorted as k=v, starting %q", got[4], want)
				}
				if !strings.Contains(", "+got[5]+", ", ", rack=r1, ") {
					t.Errorf("meta = %q, want rack=r1 among k=v pairs", got[5])
				}
			},
		},

		"services":                  {args: []string{"services"}, wantOut: "consul\ndb\nweb\n"},
		"services of the node":      {args: []string{"services", "-node=" + node.Node}, wantOut: "consul\ndb\nweb\n"},
		"services filtered":         {args: []string{"services", `-filter=ServiceName == "web"`}, wantOut: "web\n"},
		"services on matching meta": {args: []string{"services", "-node-meta=rack=r1"}, wantOut: "consul\ndb\nweb\n"},
		"services on other meta":    {args: []string{"services", "-node-meta=rack=r2"}, wantErr: noServices},
		"services of unknown node":  {args: []string{"services", "-node=nope"}, wantErr: noServices},
		"services with tags": {
			args: []string{"services", "-tags"},
			check: func(t *testing.T, lines []string) {
				want := [][]string{{"consul"}, {"db"}, {"web", "blue,v1"}}
				if len(lines) != len(want) {
					t.Fatalf("output = %q, want %d services", lines, len(want))
				}
				for i, l := range lines {
					if got := strings.Fields(l); strings.Join(got, " ") != strings.Join(want[i], " ") || l != strings.TrimRight(l, " ") {
						t.Errorf("line %d = %q, want columns %q and no trailing space", i, l, want[i])
					}
				}
				if i := strings.Index(lines[2], "blue"); i != len("consul")+6 {
					t.Errorf("tags start at column %d, want %d (the widest name plus 6):\n%s", i, len("consul")+6, strings.Join(lines, "\n"))
				}
			},
		},
		"services tags of the node": {
			args: []string{"services", "-node=" + node.Node, "-tags"},
			check: func(t *testing.T, lines []string) {
				if len(lines) != 3 || strings.Join(strings.Fields(lines[2]), " ") != "web blue,v1" {
					t.Errorf("output = %q, want web's tags once each", lines)
				}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func TestNewCommandsHelp(t *testing.T) {
	type testcase struct {
		args     []string
		wantCode int
		wantErr  string
	}
	run := func(t *testing.T, tc testcase) {
		r := runCLI(context.Background(), tc.args...)
		if r.code != tc.wantCode || !strings.Contains(r.err, tc.wantErr) {
			t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.err, tc.wantCode, tc.wantErr)
		}
	}
	cases := map[string]testcase{
		"listed":           {args: []string{"-h"}, wantErr: "    watch        Watch for changes in muster"},
		"catalog alone":    {args: []string{"catalog"}, wantCode: 1, wantErr: "Usage: muster catalog <subcommand>"},
		"catalog help":     {args: []string{"catalog", "-h"}, wantErr: "nodes      Lists all nodes in the given datacenter"},
		"services alone":   {args: []string{"services"}, wantCode: 1, wantErr: "Usage: muster services <subcommand>"},
		"services unknown": {args: []string{"services", "list"}, wantCode: 1, wantErr: "register   Register services with the local agent"},
		"register help":    {args: []string{"services", "register", "-h"}, wantErr: "HCL files are not supported"},
		"nodes help":       {args: []string{"catalog", "nodes", "-h"}, wantErr: "-near"},
		"watch help":       {args: []string{"watch", "-h"}, wantErr: "Usage: muster watch -type=TYPE"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}
