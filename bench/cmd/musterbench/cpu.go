package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// The workloads of a shared 2-core machine are CPU-bound: the bench client
// and the server it loads take turns on the same cores. So next to each
// rate the bench records what one operation cost in CPU, on each side:
// the server's share shows how lean the server is whatever the client
// costs, and the sum bounds the rate: at most cores / (client + server).

// cpuSample is the CPU time used so far by one server process and by this
// bench process (the client; only one system is loaded at a time).
type cpuSample struct {
	server, client time.Duration
	err            error
}

// cpuNow samples the CPU time of system's server process and of the bench.
func (e *env) cpuNow(system string) cpuSample {
	var s cpuSample
	pid := e.serverPID(system)
	if pid == 0 {
		s.err = fmt.Errorf("no server process for %s", system)
	} else {
		s.server, s.err = procCPU(pid)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil && s.err == nil {
		s.err = err
	}
	s.client = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return s
}

// serverPID is the process id of system's single server ("muster(txn)"
// is muster's), or 0 with -cluster or when it is not running.
func (e *env) serverPID(system string) int {
	if e.cfg.cluster {
		return 0
	}
	base, _, _ := strings.Cut(system, "(")
	for _, n := range e.nodes {
		if n.name == base && n.p != nil && !n.p.exited() {
			return n.p.cmd.Process.Pid
		}
	}
	return 0
}

// cpuPerOp is what one operation of a row cost in CPU.
type cpuPerOp struct {
	server, client time.Duration
	ops            int64
}

// cpuSince records on r the CPU cost of the ops operations done since
// from (a cpuNow of r's system); failed operations count among ops, as
// they cost CPU too. A failed sample leaves r without one and
// says so in its notes; it is not a check failure.
func (e *env) cpuSince(r *result, from cpuSample, ops int64) {
	if e.cfg.cluster {
		return // three servers per system: no one process to read
	}
	to := e.cpuNow(r.system)
	if err := errors.Join(from.err, to.err); err != nil {
		r.note("CPU per operation not measured: %v", err)
		return
	}
	if ops <= 0 {
		return
	}
	r.cpu = &cpuPerOp{
		server: (to.server - from.server) / time.Duration(ops),
		client: (to.client - from.client) / time.Duration(ops),
		ops:    ops,
	}
}

// printCPU prints the CPU cost per operation of every row that has one.
func printCPU(w io.Writer, results []*result) {
	var rows []*result
	for _, r := range results {
		if r.cpu != nil {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "\nCPU per operation in this run (server: utime+stime of its process from /proc; client: this bench's getrusage):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tSYSTEM\tOPS\tSERVER CPU/OP\tCLIENT CPU/OP\tSERVER: MUSTER/ROW")
	for _, r := range rows {
		ratio := ""
		if b := cpuBaseline(results, r.workload); b != nil && b != r && r.cpu.server > 0 {
			ratio = fmt.Sprintf("%.2fx", float64(b.cpu.server)/float64(r.cpu.server))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", r.workload, r.system, r.cpu.ops,
			fmtDur(r.cpu.server), fmtDur(r.cpu.client), ratio)
	}
	tw.Flush()
	fmt.Fprintln(w, "SERVER: MUSTER/ROW <1 means muster's server spends less CPU per operation than the row's. Client and server share")
	fmt.Fprintln(w, "the cores, so a row's rate is at most cores / (client + server CPU per operation), whatever else limits it.")
}

// cpuBaseline is the workload's plain "muster" row if it has a CPU cost.
func cpuBaseline(results []*result, workload string) *result {
	for _, r := range results {
		if r.workload == workload && r.system == "muster" && r.cpu != nil {
			return r
		}
	}
	return nil
}
