package checks

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestScriptChecksDisabled(t *testing.T) {
	_, err := Start(Spec{ID: "s", Args: []string{"true"}, Interval: time.Second}, newRecorder(t), Options{})
	if !errors.Is(err, ErrScriptChecksDisabled) || !strings.Contains(err.Error(), "enable_script_checks") {
		t.Errorf("Start: %v, want ErrScriptChecksDisabled", err)
	}
}

func TestScript(t *testing.T) {
	type testcase struct {
		script     string // run by sh -c
		maxOutput  int
		wantStatus string
		wantOutput string
	}
	run := func(t *testing.T, tc testcase) {
		rec := newRecorder(t)
		start(t, Spec{ID: "s", Args: []string{"sh", "-c", tc.script}, Interval: testInterval, OutputMaxSize: tc.maxOutput}, rec)
		u := rec.waitMatch(t, "any status", func(update) bool { return true })
		if u.status != tc.wantStatus || u.output != tc.wantOutput {
			t.Errorf("got %s %q, want %s %q", u.status, u.output, tc.wantStatus, tc.wantOutput)
		}
	}

	cases := map[string]testcase{
		"exit 0 is passing":    {script: "echo fine", wantStatus: Passing, wantOutput: "fine\n"},
		"exit 1 is warning":    {script: "echo meh; exit 1", wantStatus: Warning, wantOutput: "meh\n"},
		"exit 2 is critical":   {script: "echo bad; exit 2", wantStatus: Critical, wantOutput: "bad\n"},
		"a signal is critical": {script: "echo bye; kill -9 $$", wantStatus: Critical, wantOutput: "bye\n"},
		"stderr is captured":   {script: "echo out; echo err >&2", wantStatus: Passing, wantOutput: "out\nerr\n"},
		"the tail is kept": {
			script: "printf 0123456789abcdef", maxOutput: 10,
			wantStatus: Passing, wantOutput: "Captured 10 of 16 bytes\n...\n6789abcdef",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func TestScriptNotFound(t *testing.T) {
	rec := newRecorder(t)
	start(t, Spec{ID: "s", Args: []string{filepath.Join(t.TempDir(), "missing")}, Interval: testInterval}, rec)
	u := rec.waitFor(t, Critical)
	if !strings.Contains(u.output, "no such file") {
		t.Errorf("output %q, want the exec error", u.output)
	}
}

func TestScriptTimeout(t *testing.T) {
	rec := newRecorder(t)
	// The sleep runs in a child of sh: killing sh alone would leave the
	// output pipe open for the whole minute.
	start(t, Spec{ID: "s", Args: []string{"sh", "-c", "echo started; sleep 60; echo never"}, Interval: testInterval, Timeout: 100 * time.Millisecond}, rec)
	u := rec.waitFor(t, Critical)
	if want := "Timed out (100ms) running check\n\nstarted\n"; u.output != want {
		t.Errorf("output %q, want %q", u.output, want)
	}
}

// Stop kills a script in flight, and its result is never reported.
func TestScriptStopKills(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	rec := newRecorder(t)
	r := start(t, Spec{
		ID:       "s",
		Args:     []string{"sh", "-c", `echo $$ > "$0"; exec sleep 60`, pidFile},
		Interval: testInterval,
		Timeout:  time.Minute,
	}, rec)

	var pid int
	deadline := time.Now().Add(waitTimeout)
	for {
		b, err := os.ReadFile(pidFile)
		if err == nil && strings.HasSuffix(string(b), "\n") {
			if pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the script did not start")
		}
		time.Sleep(5 * time.Millisecond) // polling for the file, not asserting
	}
	r.Stop() // returns only once the process has been waited for
	rec.seal()
	if all := rec.all(); len(all) != 0 {
		t.Errorf("updates %+v, want none", all)
	}
	if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil {
		// The process was reaped by Stop, so its pid is gone; a zero
		// signal succeeding would mean it still runs.
		t.Errorf("script process %d still running after Stop", pid)
	}
}
