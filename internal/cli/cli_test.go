package cli_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/musterhq/muster/internal/cli"
)

// syncBuffer is a bytes.Buffer safe for a command and its child process
// (whose output is copied in by os/exec's goroutines) to write at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// result is one command run: its exit code and what it wrote.
type result struct {
	code     int
	out, err string
}

// runCLI runs the muster command line args and returns the result.
func runCLI(ctx context.Context, args ...string) result {
	var out, errb syncBuffer
	code := cli.Run(ctx, &cli.UI{Out: &out, Err: &errb}, args)
	return result{code: code, out: out.String(), err: errb.String()}
}

// withStdin makes os.Stdin read data for the rest of the test. Tests that
// use it must not run in parallel.
func withStdin(t *testing.T, data string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = f
	t.Cleanup(func() { os.Stdin = old; f.Close() })
}

func TestUnknownSubcommandPrintsGroupHelp(t *testing.T) {
	type testcase struct {
		args     []string
		wantCode int
		wantErr  string
	}
	run := func(t *testing.T, tc testcase) {
		r := runCLI(context.Background(), tc.args...)
		if r.code != tc.wantCode {
			t.Errorf("exit code = %d, want %d (stderr %q)", r.code, tc.wantCode, r.err)
		}
		if !strings.Contains(r.err, tc.wantErr) {
			t.Errorf("stderr = %q, want it to contain %q", r.err, tc.wantErr)
		}
	}
	cases := map[string]testcase{
		"kv alone":         {args: []string{"kv"}, wantCode: 1, wantErr: "Usage: muster kv <subcommand>"},
		"kv unknown":       {args: []string{"kv", "frob"}, wantCode: 1, wantErr: "Subcommands:"},
		"kv help":          {args: []string{"kv", "-h"}, wantCode: 0, wantErr: "put        Sets or updates data"},
		"snapshot alone":   {args: []string{"snapshot"}, wantCode: 1, wantErr: "Usage: muster snapshot <subcommand>"},
		"kv get help":      {args: []string{"kv", "get", "-h"}, wantCode: 0, wantErr: "-http-addr"},
		"kv get bad flag":  {args: []string{"kv", "get", "-bogus"}, wantCode: 1, wantErr: "flag provided but not defined: -bogus"},
		"lock help":        {args: []string{"lock", "-h"}, wantCode: 0, wantErr: "MUSTER_LOCK_FENCING_TOKEN"},
		"members bad flag": {args: []string{"members", "-stale"}, wantCode: 1, wantErr: "-stale"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}
