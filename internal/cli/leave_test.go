package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/musterhq/muster/internal/testagent"
)

func TestLeaveUsage(t *testing.T) {
	type testcase struct {
		args    []string
		wantErr []string
	}
	// Nothing listens at the address: usage errors are caught before the
	// agent is asked.
	run := func(t *testing.T, tc testcase) {
		r := runCLI(context.Background(), append([]string{"leave", "-http-addr=" + unreachable}, tc.args...)...)
		if r.code != 1 || r.out != "" {
			t.Errorf("exit %d, stdout %q; want 1 and none", r.code, r.out)
		}
		for _, want := range tc.wantErr {
			if !strings.Contains(r.err, want) {
				t.Errorf("stderr = %q, want it to contain %q", r.err, want)
			}
		}
	}
	cases := map[string]testcase{
		"extra args": {args: []string{"now", "please"}, wantErr: []string{"Error found unexpected args: [now please]\n", "Usage: muster leave"}},
		"bad flag":   {args: []string{"-force"}, wantErr: []string{"flag provided but not defined: -force"}},
		"no agent":   {wantErr: []string{"Error leaving: "}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func TestLeave(t *testing.T) {
	a := testagent.Start(t) // its own agent: leaving shuts it down
	r := runCLI(context.Background(), "leave", "-http-addr="+a.Addr)
	checkEndpointPresent(t, r.err, "PUT /v1/agent/leave")
	if r.code != 0 || r.out != "Graceful leave complete\n" || r.err != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and %q", r.code, r.out, r.err, "Graceful leave complete\n")
	}
}
