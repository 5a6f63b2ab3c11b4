package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestPrintCPU(t *testing.T) {
	row := func(workload, system string, server, client time.Duration) *result {
		r := newResult(workload, system, "ops/s", "put")
		if server > 0 {
			r.cpu = &cpuPerOp{server: server, client: client, ops: 1000}
		}
		return r
	}
	tests := []struct {
		name    string
		results []*result
		want    []string // substrings of the output, in order
		none    bool     // no block at all
		noRatio bool     // no row may show a ratio
	}{
		{name: "no cpu rows", results: []*result{row("kv-put", "muster", 0, 0)}, none: true},
		{
			name: "muster half of consul's server cost",
			results: []*result{
				row("kv-put", "muster", 80*time.Microsecond, 50*time.Microsecond),
				row("kv-put", "consul", 160*time.Microsecond, 50*time.Microsecond),
			},
			want: []string{"CPU per operation", "kv-put", "muster", "80.0µs", "50.0µs", "consul", "160µs", "0.50x"},
		},
		{
			name: "no muster row: no ratio",
			results: []*result{
				row("kv-get", "etcd", 100*time.Microsecond, 20*time.Microsecond),
			},
			want:    []string{"kv-get", "etcd", "100µs", "20.0µs"},
			noRatio: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			printCPU(&b, tt.results)
			out := b.String()
			if tt.none {
				if out != "" {
					t.Fatalf("want no output, got %q", out)
				}
				return
			}
			if w := inOrder(out, tt.want...); w != "" {
				t.Fatalf("%q not found (in order) in:\n%s", w, out)
			}
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "kv-") && tt.noRatio && strings.HasSuffix(strings.TrimSpace(line), "x") {
					t.Fatalf("row without a muster baseline got a ratio: %q", line)
				}
			}
		})
	}
}

// TestCPUNow reads this test process's own CPU time as a server's would
// be read, and refuses a system that has no server process.
func TestCPUNow(t *testing.T) {
	used, err := procCPU(os.Getpid())
	if err != nil || used <= 0 {
		t.Fatalf("procCPU(self) = %v, %v; want > 0", used, err)
	}
	s := (&env{}).cpuNow("nobody")
	if s.err == nil {
		t.Fatal("cpuNow of a system without a server process: want an error")
	}
	if s.client <= 0 {
		t.Fatalf("bench client CPU %v: want > 0", s.client)
	}
}

// TestServerPID maps a row's system to its server's process: a variant
// row to its base system, an exited server or -cluster to none.
func TestServerPID(t *testing.T) {
	running := func(name string, pid int) *node {
		return &node{name: name, p: &proc{name: name, cmd: &exec.Cmd{Process: &os.Process{Pid: pid}}, done: make(chan struct{})}}
	}
	exited := running("etcd", 30)
	close(exited.p.done)
	nodes := []*node{running("muster", 10), running("consul", 20), exited}
	tests := []struct {
		system  string
		cluster bool
		want    int
	}{
		{system: "muster", want: 10},
		{system: "muster(consul-api-lock)", want: 10},
		{system: "consul(txn)", want: 20},
		{system: "etcd", want: 0},  // exited
		{system: "redis", want: 0}, // not started
		{system: "muster", cluster: true, want: 0},
	}
	for _, tt := range tests {
		e := &env{nodes: nodes}
		e.cfg.cluster = tt.cluster
		if got := e.serverPID(tt.system); got != tt.want {
			t.Errorf("serverPID(%q, cluster=%v) = %d, want %d", tt.system, tt.cluster, got, tt.want)
		}
	}
}

// TestCPUSince divides the CPU used between two samples by the
// operations, and records nothing when a sample failed.
func TestCPUSince(t *testing.T) {
	self := &node{name: "muster", p: &proc{name: "muster", cmd: &exec.Cmd{Process: &os.Process{Pid: os.Getpid()}}, done: make(chan struct{})}}
	e := &env{nodes: []*node{self}}
	r := newResult("kv-put", "muster", "ops/s", "put")
	from := e.cpuNow("muster")
	if from.err != nil {
		t.Fatal(from.err)
	}
	from.server -= 10 * time.Millisecond // as if the server had used 10 ms more since
	e.cpuSince(r, from, 1000)
	if r.cpu == nil || r.cpu.ops != 1000 || r.cpu.server < 10*time.Microsecond {
		t.Fatalf("cpu = %+v; want ops 1000 and server >= 10µs per op", r.cpu)
	}
	failed := newResult("kv-put", "redis", "ops/s", "put")
	e.cpuSince(failed, e.cpuNow("redis"), 1000)
	if failed.cpu != nil || len(failed.notes) != 1 || len(failed.fails) != 0 {
		t.Fatalf("no redis process: cpu %+v notes %q fails %q; want no cpu, one note, no FAIL", failed.cpu, failed.notes, failed.fails)
	}
}
