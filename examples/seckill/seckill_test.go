package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/musterhq/muster/internal/testagent"
	"github.com/musterhq/muster/internal/testredis"
)

// TestSeckill runs the built binary, as a learner would, with 3 processes x
// 30 buyers x 10 items in every mode, against a real muster dev agent and a
// real redis-server, and checks the accounting in its last lines.
func TestSeckill(t *testing.T) {
	bin := buildSeckill(t)
	agent := testagent.Start(t)
	redisAddr := testredis.Start(t) // "" without redis-server: the Redis cases skip

	type testcase struct {
		args       []string
		procs      int // processes; default 3
		needsRedis bool
		check      func(t *testing.T, r *runResult)
	}
	// correct is what a guarded sale must come to: no oversell, one order
	// per buyer told 抢购成功, and the stock that was not sold still there.
	correct := func(t *testing.T, r *runResult) {
		t.Helper()
		if r.oversold != 0 || r.orders != int64(r.sold) || r.sold > 10 || int64(r.sold)+r.left != 10 || r.errors != 0 {
			t.Errorf("sold=%d orders=%d oversold=%d left=%d errors=%d: want no oversell, orders == sold <= 10, sold+left == 10, no errors",
				r.sold, r.orders, r.oversold, r.left, r.errors)
		}
	}
	// soldOut is correct, and every item sold: 90 buyers for 10 items, each
	// of whom waits its turn or retries, leave none.
	soldOut := func(t *testing.T, r *runResult) {
		t.Helper()
		correct(t, r)
		if r.sold != 10 || r.refused != 0 {
			t.Errorf("sold=%d refused=%d: want all 10 sold and no write refused under the lock", r.sold, r.refused)
		}
	}
	tests := map[string]testcase{
		"none oversells": {args: []string{"--lock", "none"}, check: func(t *testing.T, r *runResult) {
			if r.oversold == 0 || r.sold <= 10 {
				t.Errorf("sold=%d oversold=%d: want an oversell without a lock", r.sold, r.oversold)
			}
			if int64(r.sold) != r.orders {
				t.Errorf("sold=%d orders=%d: the order count is an atomic increment, want them equal", r.sold, r.orders)
			}
		}},
		"local one process": {args: []string{"--lock", "local"}, procs: 1, check: soldOut},
		// A mutex per process keeps out only its own buyers: with 3 processes
		// it usually oversells, but may not, so only the accounting is checked.
		"local three processes": {args: []string{"--lock", "local"}, check: func(t *testing.T, r *runResult) {
			if int64(r.sold) != r.orders || r.errors != 0 {
				t.Errorf("sold=%d orders=%d errors=%d: want orders == sold, no errors", r.sold, r.orders, r.errors)
			}
		}},
		"redis":        {args: []string{"--lock", "redis"}, needsRedis: true, check: soldOut},
		"redis store":  {args: []string{"--lock", "redis", "--store", "redis"}, needsRedis: true, check: soldOut},
		"muster":       {args: []string{"--lock", "muster"}, check: soldOut},
		"muster redis": {args: []string{"--lock", "muster", "--store", "redis"}, needsRedis: true, check: soldOut},
		"txn":          {args: []string{"--lock", "txn"}, check: soldOut},
		"txn redis":    {args: []string{"--lock", "txn", "--store", "redis"}, needsRedis: true, check: soldOut},
		"add":          {args: []string{"--lock", "add"}, check: soldOut},
		"add redis":    {args: []string{"--lock", "add", "--store", "redis"}, needsRedis: true, check: soldOut},
		"redis-try leaves stock": {args: []string{"--lock", "redis-try"}, needsRedis: true, check: func(t *testing.T, r *runResult) {
			correct(t, r)
			// The first TryLock finds the key free, so someone buys; whoever
			// finds it taken gives up, so usually stock is left (not always:
			// buyers that start late can find it free again).
			if r.sold < 1 || r.noLock < 1 || r.sold+r.noLock+r.refused != r.tries {
				t.Errorf("sold=%d no-lock=%d refused=%d tries=%d: want some sold, some without the lock, and nothing else",
					r.sold, r.noLock, r.refused, r.tries)
			}
		}},
	}
	run := func(t *testing.T, tc testcase) {
		if tc.needsRedis && redisAddr == "" {
			t.Skip("redis-server not on PATH (apt-get install redis-server)")
		}
		procs := cmp.Or(tc.procs, 3)
		args := append([]string{"--processes", strconv.Itoa(procs), "--buyers", "30", "--inventory", "10",
			"--agent", agent.Addr, "--redis", redisAddr, "--check"}, tc.args...)
		r := runSeckill(t, bin, args...)
		if r.tries != procs*30 {
			t.Errorf("tries=%d, want one per buyer: %d", r.tries, procs*30)
		}
		if r.soldLines != r.sold {
			t.Errorf("%d lines say 抢购成功, sold=%d", r.soldLines, r.sold)
		}
		wantCode := 0
		if r.oversold > 0 {
			wantCode = 1 // --check
		}
		if r.code != wantCode {
			t.Errorf("exit status %d with oversold=%d under --check, want %d", r.code, r.oversold, wantCode)
		}
		tc.check(t, r)
		if t.Failed() {
			t.Logf("output:\n%s", r.out)
		}
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

// buildSeckill builds the package's binary into a temp dir once for the
// test, so every run starts children the way `go run` does.
func buildSeckill(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to build the binary")
	}
	bin := filepath.Join(t.TempDir(), "seckill")
	out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runResult is a run's exit status and what its summary lines say.
type runResult struct {
	code int
	out  string
	// from the last line: sold=N orders=N oversold=N
	sold     int
	orders   int64
	oversold int
	// from the line before: tries=N no-lock=N refused=N errors=N left=N
	tries, noLock, refused, errors int
	left                           int64
	// soldLines counts the buyers' 抢购成功 lines
	soldLines int
}

// runSeckill runs bin with args to its end (at most a minute) and parses
// its output.
func runSeckill(t *testing.T, bin string, args ...string) *runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := &runResult{out: stdout.String() + stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run %v: %v\n%s", args, err, r.out)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("run %v: exit %d, want summary lines, got:\n%s", args, r.code, r.out)
	}
	last, stats := lines[len(lines)-1], lines[len(lines)-2]
	if _, err := fmt.Sscanf(last, "sold=%d orders=%d oversold=%d", &r.sold, &r.orders, &r.oversold); err != nil {
		t.Fatalf("last line %q: %v\n%s", last, err, r.out)
	}
	if _, err := fmt.Sscanf(stats, "tries=%d no-lock=%d refused=%d errors=%d left=%d", &r.tries, &r.noLock, &r.refused, &r.errors, &r.left); err != nil {
		t.Fatalf("stats line %q: %v\n%s", stats, err, r.out)
	}
	r.soldLines = strings.Count(stdout.String(), "抢购成功*****")
	return r
}
