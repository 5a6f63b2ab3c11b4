package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeLookPath makes lookPath find exactly the names in found: a bare
// name in /usr/local/bin, a path as itself, and "name=path" at path. A
// binary whose path holds "muster" says it is muster, any other Consul.
func fakeLookPath(t *testing.T, found ...string) {
	t.Helper()
	old := lookPath
	lookPath = func(name string) (string, error) {
		for _, f := range found {
			switch n, path, ok := strings.Cut(f, "="); {
			case ok && n == name:
				return path, nil
			case !ok && f == name && strings.Contains(name, "/"):
				return name, nil
			case !ok && f == name:
				return "/usr/local/bin/" + name, nil
			}
		}
		return "", exec.ErrNotFound
	}
	oldVersion := consulVersion
	consulVersion = func(bin string) (string, error) {
		if strings.Contains(bin, "muster") {
			return "muster v0.1.0", nil
		}
		return "Consul v1.22.7", nil
	}
	t.Cleanup(func() { lookPath, consulVersion = old, oldVersion })
}

func TestResolveConsul(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		found   []string // what lookPath finds
		systems []string
		consul  string
		why     string // in the stderr line
		err     string // non-empty: parseFlags fails with this
	}{
		{name: "default, no binary", systems: []string{"muster", "etcd", "redis"},
			why: "consul: not included (no -consul=PATH and no consul on $PATH"},
		{name: "default, on PATH", found: []string{"consul"}, systems: []string{"muster", "consul", "etcd", "redis"},
			consul: "/usr/local/bin/consul", why: "consul: included (binary found on $PATH: /usr/local/bin/consul)"},
		{name: "-consul", args: []string{"-consul=/opt/consul"}, found: []string{"/opt/consul"},
			systems: []string{"muster", "consul", "etcd", "redis"}, consul: "/opt/consul", why: "consul: included (binary -consul=/opt/consul)"},
		{name: "-consul not executable", args: []string{"-consul=/nope/consul"}, err: "-consul=/nope/consul"},
		{name: "-systems with consul", args: []string{"-systems=consul,muster"}, found: []string{"consul"},
			systems: []string{"muster", "consul"}, consul: "/usr/local/bin/consul", why: "consul: included (in -systems"},
		{name: "-systems with consul, no binary", args: []string{"-systems=consul"}, err: "pass -consul=PATH"},
		{name: "-systems without consul", args: []string{"-systems=muster,redis", "-consul=/opt/consul"}, found: []string{"/opt/consul"},
			systems: []string{"muster", "redis"}, why: "consul: not included (not in -systems)"},
		{name: "default, a consul on PATH that is muster", found: []string{"consul=/tmp/suite/muster-as-consul/consul"}, systems: []string{"muster", "etcd", "redis"},
			why: "consul: not included (/tmp/suite/muster-as-consul/consul is not a Consul binary"},
		{name: "-systems with consul, PATH has muster as consul", args: []string{"-systems=consul"}, found: []string{"consul=/tmp/suite/muster-as-consul/consul"},
			err: "is not a Consul binary"},
		{name: "-cluster", args: []string{"-cluster", "-consul=/opt/consul"}, found: []string{"/opt/consul"},
			systems: clusterSystems, why: "consul: not included (-cluster"},
		{name: "-cluster refuses consul", args: []string{"-cluster", "-systems=consul"}, found: []string{"consul"}, err: "unknown \"consul\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fakeLookPath(t, tc.found...)
			var stderr strings.Builder
			c, err := parseFlags(tc.args, &stderr)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.systems, tc.systems) || c.consul != tc.consul {
				t.Errorf("systems %v consul %q, want %v %q", c.systems, c.consul, tc.systems, tc.consul)
			}
			if lines := strings.Count(stderr.String(), "\n"); lines != 1 || !strings.Contains(stderr.String(), tc.why) {
				t.Errorf("stderr %q: want one line with %q", stderr.String(), tc.why)
			}
		})
	}
}

func TestConsulArgs(t *testing.T) {
	args := strings.Join(consulArgs(1, 2, 3, 4), " ")
	for _, want := range []string{
		"agent -dev ", "-bind=127.0.0.1", "-client=127.0.0.1",
		"-http-port=1", "-serf-lan-port=2", "-serf-wan-port=3", "-server-port=4",
		"-dns-port=-1", "-grpc-port=-1", "-grpc-tls-port=-1", "-log-level=warn",
		"-hcl limits { http_max_conns_per_client = 4096 }",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("consul args %q lack %q", args, want)
		}
	}
}

func TestConsulGoalLine(t *testing.T) {
	row := func(workload, system, unit string, v float64) *result {
		r := newResult(workload, system, unit, "")
		r.value = v
		return r
	}
	withP99 := func(r *result, p99 time.Duration) *result {
		r.lat = latencies{p99 / 2, p99}.summarize()
		return r
	}
	failed := row("kv-put", "muster", "ops/s", 9000)
	failed.fail("counter off")
	skipped := row("kv-put", "consul", "ops/s", 0)
	skipped.skipped = "n/a"
	goal := func(workload, peer string) consulGoal {
		for _, g := range consulGoals {
			if g.workload == workload && g.peerRow == peer {
				return g
			}
		}
		t.Fatalf("no goal %s vs %s", workload, peer)
		return consulGoal{}
	}
	kvPut, lockRedis := goal("kv-put", "consul"), goal("lock-handoff", "redis")
	seckillLock, watch := goal("seckill", "consul"), goal("watch-wake", "consul")
	cases := []struct {
		name    string
		goal    consulGoal
		results []*result
		want    []string // cells, in order
		not     string   // must not appear
	}{
		{"ratio met", kvPut, []*result{row("kv-put", "muster", "ops/s", 3000), row("kv-put", "consul", "ops/s", 1000)},
			[]string{"3,000 ops/s", "1,000 ops/s", "3.00x", "≥3x consul: met"}, "NOT"},
		{"ratio missed", kvPut, []*result{row("kv-put", "muster", "ops/s", 2999), row("kv-put", "consul", "ops/s", 1000)},
			[]string{"3.00x", "≥3x consul: NOT met"}, ""},
		{"peer absent", kvPut, []*result{row("kv-put", "muster", "ops/s", 3000)},
			[]string{"3,000 ops/s", "not measured", "≥3x consul: consul not measured"}, "met"},
		{"peer n/a", kvPut, []*result{row("kv-put", "muster", "ops/s", 3000), skipped},
			[]string{"not measured", "consul not measured"}, "x\t"},
		{"muster absent", kvPut, []*result{row("kv-put", "consul", "ops/s", 1000)},
			[]string{"not measured", "1,000 ops/s", "\t≥3x consul"}, "met"},
		{"muster row failed", kvPut, []*result{failed, row("kv-put", "consul", "ops/s", 1000)},
			[]string{"9.00x", "met (a row FAILed)"}, ""},
		{"vs redis", lockRedis, []*result{row("lock-handoff", "muster", "acq/s", 1500), row("lock-handoff", "consul", "acq/s", 100), row("lock-handoff", "redis", "acq/s", 6000)},
			[]string{"redis", "6,000 acq/s", "0.25x", "≥1x redis: NOT met"}, ""},
		{"bound met", seckillLock, []*result{row("seckill", "muster", "s", 0.039), row("seckill", "consul", "s", 0.385)},
			[]string{"0.039 s", "0.385 s", "0.10x", "≤40 ms: met"}, "NOT"},
		{"bound missed", seckillLock, []*result{row("seckill", "muster", "s", 0.041), row("seckill", "consul", "s", 0.385)},
			[]string{"0.041 s", "≤40 ms: NOT met"}, ""},
		{"bound without consul", seckillLock, []*result{row("seckill", "muster", "s", 0.02)},
			[]string{"0.020 s", "not measured", "≤40 ms: met"}, ""},
		{"p99 bound", watch, []*result{withP99(row("watch-wake", "muster", "ms", 30), 8*time.Millisecond), withP99(row("watch-wake", "consul", "ms", 90), 80*time.Millisecond)},
			[]string{"8.00 ms", "80.0 ms", "0.10x", "≤10 ms: met"}, "NOT"},
		{"unit mismatch", kvPut, []*result{row("kv-put", "muster", "ops/s", 3000), row("kv-put", "consul", "s", 1)},
			[]string{"3,000 ops/s", "consul not measured"}, "met"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			line := tc.goal.line(tc.results)
			if w := inOrder(line, tc.want...); w != "" {
				t.Fatalf("line %q lacks %q (in order)", line, w)
			}
			if tc.not != "" && strings.Contains(line, tc.not) {
				t.Errorf("line %q has %q", line, tc.not)
			}
		})
	}
}

func TestPrintConsulGoalsListsEveryGoal(t *testing.T) {
	var b strings.Builder
	printConsulGoals(&b, nil)
	out := b.String()
	if !strings.Contains(out, "GOALS vs Consul in this run") {
		t.Errorf("no title:\n%s", out)
	}
	for _, g := range consulGoals {
		if !strings.Contains(out, g.what) {
			t.Errorf("goal %q missing:\n%s", g.what, out)
		}
	}
	if strings.Contains(out, "met") {
		t.Errorf("a verdict without numbers:\n%s", out)
	}
}

func TestReferencesDeferToInRunGoals(t *testing.T) {
	reg := newResult("reg-dereg", "muster", "ops/s", "reg or dereg")
	reg.value = 7000
	cpu := newResult("check-cpu", "muster", "% core", "")
	cpu.value = 2
	cases := []struct {
		consulInRun bool
		want, not   []string
	}{
		{false, []string{"≥6,513 ops/s (3x): met", "<5.00 % core: met", "ANOTHER DAY"}, []string{"see GOALS vs Consul"}},
		{true, []string{"see GOALS vs Consul in this run", "<5.00 % core: met", "Consul ran in this run"}, []string{"(3x): met", "(10x)"}},
	}
	for _, tc := range cases {
		var b strings.Builder
		printReferences(&b, []*result{reg, cpu}, tc.consulInRun)
		out := b.String()
		for _, want := range tc.want {
			if !strings.Contains(out, want) {
				t.Errorf("consulInRun=%v: output lacks %q:\n%s", tc.consulInRun, want, out)
			}
		}
		for _, not := range tc.not {
			if strings.Contains(out, not) {
				t.Errorf("consulInRun=%v: output has %q:\n%s", tc.consulInRun, not, out)
			}
		}
	}
}
