package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	consul "github.com/hashicorp/consul/api"
)

const (
	// cpuService is the service check-cpu registers cpuServices instances
	// of, each with an HTTP check every cpuInterval.
	cpuService  = "bench-cpu"
	cpuServices = 1000
	cpuInterval = 10 * time.Second
	// cpuSettle bounds the wait for every check to pass: the first probe
	// of each runs after a random stagger below the interval.
	cpuSettle = cpuInterval + 30*time.Second
	// cpuIdleWindow is the idle measurement before registering, for the
	// notes.
	cpuIdleWindow = 5 * time.Second
	// cpuBudget is the goal: muster's CPU with the checks running, in % of
	// one core.
	cpuBudget = 5.0
)

// checkCPU: 1000 services on muster's agent, each with an HTTP check
// every 10 s against a server the bench runs on loopback (200 "ok"); once
// every check passes, muster's CPU time (utime+stime from /proc/PID/stat)
// over -cpu-window, as % of one core. An absolute budget (< 5 % of a
// core), so etcd and Redis rows are n/a. Checks: the probes arrived at the
// configured rate during the window, and every check passes at the end.
func checkCPU(ctx context.Context, e *env) []*result {
	var out []*result
	if e.muster != nil {
		out = append(out, musterCheckCPU(ctx, e))
	}
	for _, s := range e.cfg.systems {
		if s != "muster" {
			r := newResult("check-cpu", s, "% core", "")
			r.skipped = "n/a: absolute CPU budget for muster's HTTP checks, no peer"
			out = append(out, r)
		}
	}
	return out
}

func cpuID(i int) string { return fmt.Sprintf("%s-%04d", cpuService, i) }

func musterCheckCPU(ctx context.Context, e *env) *result {
	r := newResult("check-cpu", "muster", "% core", "")
	r.lowerIsBetter = true
	c, window := e.muster, e.cfg.cpuWindow
	if c.pid == 0 {
		r.fail("muster's process id is unknown")
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, cpuIdleWindow+cpuSettle+window+3*time.Minute)
	defer cancel()

	idle, _, err := cpuOver(ctx, c.pid, cpuIdleWindow)
	if !r.check(err == nil, "idle CPU: %v", err) {
		return r
	}

	// The checks' target: 200 "ok" on any path, counting the probes.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if !r.check(err == nil, "listen: %v", err) {
		return r
	}
	var probes atomic.Int64
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			probes.Add(1)
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "ok")
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.Serve(ln)
	defer srv.Close()
	target := "http://" + ln.Addr().String() + "/health/"

	agent := c.consul.Agent()
	t := time.Now()
	err = forEach(ctx, cpuServices, func(ctx context.Context, i int) error {
		return agent.ServiceRegisterOpts(&consul.AgentServiceRegistration{
			ID:    cpuID(i),
			Name:  cpuService,
			Port:  30000 + i,
			Check: &consul.AgentServiceCheck{HTTP: target + cpuID(i), Interval: cpuInterval.String()},
		}, consul.ServiceRegisterOpts{}.WithContext(ctx))
	})
	registered := time.Since(t)
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		err := forEach(cctx, cpuServices, func(ctx context.Context, i int) error {
			err := agent.ServiceDeregisterOpts(cpuID(i), qo(ctx))
			if se := (consul.StatusError{}); errors.As(err, &se) && se.Code == http.StatusNotFound {
				return nil // never registered: the registration failed, which is a FAIL already
			}
			return err
		})
		r.check(err == nil, "cleanup: deregistering the services: %v", err)
	}()
	if !r.check(err == nil, "registering %d services: %v", cpuServices, err) {
		return r
	}

	// Settle: every check passing in the catalog.
	var passing int
	for deadline := time.Now().Add(cpuSettle); ; {
		passing, err = countPassing(ctx, c)
		if err != nil || passing == cpuServices || time.Now().After(deadline) {
			break
		}
		if !sleepCtx(ctx, 500*time.Millisecond) {
			break
		}
	}
	if !r.check(err == nil && passing == cpuServices, "after %s only %d of %d checks passing (%v)",
		fmtDur(time.Since(t)), passing, cpuServices, err) {
		return r
	}
	settled := time.Since(t)

	p0 := probes.Load()
	pct, used, err := cpuOver(ctx, c.pid, window)
	n := probes.Load() - p0
	if !r.check(err == nil, "CPU: %v", err) {
		return r
	}
	r.value = pct
	r.note("%s of CPU in a %s window (utime+stime of pid %d, /proc/PID/stat); idle before registering: %.2f %% core over %s",
		fmtDur(used), fmtDur(window), c.pid, idle, fmtDur(cpuIdleWindow))
	r.note("%d services registered in %s (PUT /v1/agent/service/register, %d at a time), all %d checks passing after %s",
		cpuServices, fmtDur(registered), setupWorkers, cpuServices, fmtDur(settled))
	want := float64(cpuServices) * window.Seconds() / cpuInterval.Seconds()
	r.note("%d HTTP probes answered in the window (%.0f expected: %d checks every %s)", n, want, cpuServices, cpuInterval)
	r.check(float64(n) >= 0.8*want && float64(n) <= 1.2*want,
		"%d HTTP probes in the %s window, expected %.0f ± 20 %%", n, fmtDur(window), want)

	// At the end: every check passing, in the catalog and in the agent.
	passing, err = countPassing(ctx, c)
	if r.check(err == nil, "reading /v1/health/state/passing: %v", err) {
		r.check(passing == cpuServices, "%d of %d checks passing in /v1/health/state/passing at the end", passing, cpuServices)
	}
	chks, err := agent.ChecksWithFilterOpts("", qo(ctx))
	if r.check(err == nil, "reading /v1/agent/checks: %v", err) {
		var ok, bad int
		var first string
		for _, ch := range chks {
			switch {
			case ch.ServiceName != cpuService:
			case ch.Status == consul.HealthPassing:
				ok++
			default:
				if bad++; first == "" {
					first = fmt.Sprintf("%s is %s: %q", ch.CheckID, ch.Status, ch.Output)
				}
			}
		}
		r.check(ok == cpuServices && bad == 0, "/v1/agent/checks: %d passing, %d not (first: %s)", ok, bad, first)
	}
	return r
}

// countPassing counts the check-cpu checks in /v1/health/state/passing.
func countPassing(ctx context.Context, c *musterClient) (int, error) {
	chks, _, err := c.consul.Health().State(consul.HealthPassing, qo(ctx))
	n := 0
	for _, ch := range chks {
		if ch.ServiceName == cpuService {
			n++
		}
	}
	return n, err
}

// sleepCtx sleeps d unless ctx ends first; it reports whether it slept.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// cpuOver measures pid's CPU time (user+system, all threads) over d and
// returns it as a percentage of one core, with the time used.
func cpuOver(ctx context.Context, pid int, d time.Duration) (float64, time.Duration, error) {
	c0, err := procCPU(pid)
	if err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	if !sleepCtx(ctx, d) {
		return 0, 0, ctx.Err()
	}
	c1, err := procCPU(pid)
	if err != nil {
		return 0, 0, err
	}
	used := c1 - c0
	return 100 * used.Seconds() / time.Since(t0).Seconds(), used, nil
}

// procCPU reads utime+stime of pid from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	ticks, err := parseStatCPU(string(b))
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ticks) * time.Second / time.Duration(clockTicks()), nil
}

// parseStatCPU returns utime+stime (fields 14 and 15, in clock ticks) of
// a /proc/PID/stat line. The command name (field 2) is in parentheses and
// may hold spaces, so the fields are counted after its closing one.
func parseStatCPU(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name", len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return utime + stime, nil
}

// clockTicks is the kernel's USER_HZ (getconf CLK_TCK), 100 on Linux.
var clockTicks = sync.OnceValue(func() int64 {
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
})
