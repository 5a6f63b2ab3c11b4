package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/internal/testagent"
)

// lockArgs is `muster lock -http-addr=ADDR ARGS...`.
func lockArgs(addr string, args ...string) []string {
	return append([]string{"lock", "-http-addr=" + addr}, args...)
}

// runConcurrently runs each command line at once and returns the results
// in the same order.
func runConcurrently(ctx context.Context, cmds ...[]string) []result {
	results := make([]result, len(cmds))
	var wg sync.WaitGroup
	for i, args := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runCLI(ctx, args...)
		}()
	}
	wg.Wait()
	return results
}

// readLines returns the lines of a file the children appended to.
func readLines(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(string(b), " ", "_"))
}

// assertNoSessions fails the test if any session is left.
func assertNoSessions(t *testing.T, c *api.Client) {
	t.Helper()
	sessions, _, err := c.Session().List(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 0 {
		t.Errorf("%d sessions left, want none: %+v", len(sessions), sessions[0])
	}
}

func TestLockSerialisesChildren(t *testing.T) {
	a := testagent.Start(t)
	file := filepath.Join(t.TempDir(), "log")
	child := `echo "start:$MUSTER_LOCK_FENCING_TOKEN:$CONSUL_LOCK_HELD" >> ` + file + `; sleep 0.2; echo end >> ` + file
	const n = 3
	cmds := make([][]string, n)
	for i := range cmds {
		cmds[i] = lockArgs(a.Addr, "jobs/nightly", child)
	}
	for i, r := range runConcurrently(context.Background(), cmds...) {
		if r.code != 0 || r.err != "" {
			t.Errorf("lock %d: exit %d, stderr %q", i, r.code, r.err)
		}
	}

	lines := readLines(t, file)
	if len(lines) != 2*n {
		t.Fatalf("log = %q, want %d start/end pairs", lines, n)
	}
	var last uint64
	for i := 0; i < len(lines); i += 2 {
		start, end := strings.Split(lines[i], ":"), lines[i+1]
		if len(start) != 3 || start[0] != "start" || end != "end" {
			t.Fatalf("children interleaved: log = %q", lines)
		}
		if start[2] != "true" {
			t.Errorf("CONSUL_LOCK_HELD = %q, want true", start[2])
		}
		token, err := strconv.ParseUint(start[1], 10, 64)
		if err != nil || token <= last {
			t.Errorf("fencing tokens not increasing: log = %q", lines)
		}
		last = token
	}
	if p := get(t, a.Client, "jobs/nightly/.lock"); p != nil {
		t.Errorf("lock key left behind: %+v", p)
	}
	assertNoSessions(t, a.Client)
}

func TestLockSemaphoreLimitsHolders(t *testing.T) {
	a := testagent.Start(t)
	file := filepath.Join(t.TempDir(), "log")
	child := `echo start >> ` + file + `; sleep 0.3; echo end >> ` + file
	cmds := make([][]string, 3)
	for i := range cmds {
		cmds[i] = lockArgs(a.Addr, "-n=2", "jobs/pool", child)
	}
	for i, r := range runConcurrently(context.Background(), cmds...) {
		if r.code != 0 || r.err != "" {
			t.Errorf("lock %d: exit %d, stderr %q", i, r.code, r.err)
		}
	}
	lines := readLines(t, file)
	holders, most, starts := 0, 0, 0
	for _, l := range lines {
		if l == "start" {
			holders++
			starts++
		} else {
			holders--
		}
		most = max(most, holders)
	}
	if starts != 3 || most > 2 {
		t.Errorf("log = %q: %d children ran, up to %d at once; want 3, at most 2", lines, starts, most)
	}
	if pairs, _, err := a.Client.KV().List("jobs/pool/", nil); err != nil || len(pairs) != 0 {
		t.Errorf("semaphore keys left behind: %v, %v", pairs, err)
	}
	assertNoSessions(t, a.Client)
}

// startLock runs `muster lock -shell=false PREFIX sleep 30` in the
// background and waits until it holds the lock. The result arrives on the
// channel.
func startLock(t *testing.T, ctx context.Context, a *testagent.Agent, prefix string) <-chan result {
	t.Helper()
	done := make(chan result, 1)
	go func() { done <- runCLI(ctx, lockArgs(a.Addr, "-shell=false", prefix, "sleep", "30")...) }()
	testagent.WaitFor(t, 5*time.Second, "the lock to be held", func() bool {
		p, _, err := a.Client.KV().Get(prefix+"/.lock", nil)
		return err == nil && p != nil && p.Session != ""
	})
	return done
}

// waitResult waits for a background lock to finish.
func waitResult(t *testing.T, done <-chan result) result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("muster lock did not exit")
		return result{}
	}
}

func TestLockLostKillsChild(t *testing.T) {
	a := testagent.Start(t)
	done := startLock(t, context.Background(), a, "jobs/lost")
	p := get(t, a.Client, "jobs/lost/.lock")
	if _, err := a.Client.Session().Destroy(p.Session, nil); err != nil {
		t.Fatal(err)
	}
	r := waitResult(t, done)
	if r.code != 1 || !strings.Contains(r.err, "Lock lost, killing child") {
		t.Errorf("exit %d, stderr %q; want 1 and the lost lock reported", r.code, r.err)
	}
	assertNoSessions(t, a.Client)
}

func TestLockShutdownStopsChildAndReleases(t *testing.T) {
	a := testagent.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := startLock(t, ctx, a, "jobs/stop")
	cancel() // what SIGINT or SIGTERM does to `muster lock`
	r := waitResult(t, done)
	if r.code != 0 || r.err != "" {
		t.Errorf("exit %d, stderr %q; want 0 and nothing", r.code, r.err)
	}
	if p := get(t, a.Client, "jobs/stop/.lock"); p != nil {
		t.Errorf("lock key left behind: %+v", p)
	}
	assertNoSessions(t, a.Client)
}

func TestLockTimeout(t *testing.T) {
	a := testagent.Start(t)
	holder := newSession(t, a.Client)
	if ok, _, err := a.Client.KV().Acquire(&consulapi.KVPair{Key: "jobs/busy/.lock", Session: holder}, nil); err != nil || !ok {
		t.Fatalf("acquire: %v, %v", ok, err)
	}
	r := runCLI(context.Background(), lockArgs(a.Addr, "-timeout=100ms", "jobs/busy", "true")...)
	if r.code != 1 || !strings.Contains(r.err, "Shutdown triggered or timeout during lock acquisition") {
		t.Errorf("exit %d, stderr %q; want 1 and a timeout", r.code, r.err)
	}
	sessions, _, err := a.Client.Session().List(nil)
	if err != nil || len(sessions) != 1 || sessions[0].ID != holder {
		t.Errorf("sessions = %v, %v; want only the holder's", sessions, err)
	}
}

func TestLockExitCodes(t *testing.T) {
	a := testagent.Start(t)
	// semaphoreKey stands for a Consul semaphore's .lock, which the fair
	// lock must not take over.
	semaphoreKey := &consulapi.KVPair{Key: "exit/sem/.lock", Flags: consulapi.SemaphoreFlagValue, Value: []byte("{}")}
	if _, err := a.Client.KV().Put(semaphoreKey, nil); err != nil {
		t.Fatal(err)
	}
	type testcase struct {
		stdin    string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string // stderr must contain it
	}
	run := func(t *testing.T, tc testcase) {
		if tc.stdin != "" {
			withStdin(t, tc.stdin)
		}
		r := runCLI(context.Background(), lockArgs(a.Addr, tc.args...)...)
		if r.code != tc.wantCode {
			t.Errorf("exit code = %d, want %d (stderr %q)", r.code, tc.wantCode, r.err)
		}
		if r.out != tc.wantOut {
			t.Errorf("stdout = %q, want %q", r.out, tc.wantOut)
		}
		if !strings.Contains(r.err, tc.wantErr) || (tc.wantErr == "" && r.err != "") {
			t.Errorf("stderr = %q, want %q", r.err, tc.wantErr)
		}
	}
	cases := map[string]testcase{
		"child succeeds": {
			args:    []string{"exit/ok", "echo", "hello"},
			wantOut: "hello\n",
		},
		"child fails": {
			args:    []string{"exit/fail", "exit 3"},
			wantErr: "Error running handler: exit status 3",
		},
		"child fails with child-exit-code": {
			args:     []string{"-child-exit-code", "exit/fail", "exit 3"},
			wantCode: 2,
			wantErr:  "Error running handler: exit status 3",
		},
		"child cannot start": {
			args:     []string{"-child-exit-code", "-shell=false", "exit/nostart", "/nonexistent/child"},
			wantCode: 2,
			wantErr:  "Error starting handler:",
		},
		"semaphore child fails with child-exit-code": {
			args:     []string{"-n=3", "-child-exit-code", "exit/semfail", "exit 1"},
			wantCode: 2,
			wantErr:  "Error running handler: exit status 1",
		},
		"pass stdin": {
			stdin:   "from stdin\n",
			args:    []string{"-pass-stdin", "exit/stdin", "cat"},
			wantOut: "from stdin\n",
		},
		"verbose": {
			args: []string{"-verbose", "exit/verbose", "true"},
			wantOut: "Setting up lock at path: exit/verbose/.lock\nAttempting lock acquisition\nStarting handler\n" +
				"Child terminated, releasing lock\nCleanup succeeded\n",
		},
		"conflicts with a semaphore": {
			args:     []string{"exit/sem", "true"},
			wantCode: 1,
			wantErr:  "Lock acquisition failed: Existing key does not match lock use",
		},
		"no child": {
			args:     []string{"exit/nochild"},
			wantCode: 1,
			wantErr:  "Key prefix and child command must be specified",
		},
		"zero holders": {
			args:     []string{"-n=0", "exit/zero", "true"},
			wantCode: 1,
			wantErr:  "Lock holder limit must be positive",
		},
		"unreachable agent": {
			args:     []string{"-http-addr=127.0.0.1:1", "exit/unreachable", "true"},
			wantCode: 1,
			wantErr:  "Error querying muster agent:",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}
