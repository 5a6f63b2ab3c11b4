package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/musterhq/muster/internal/testagent"
)

func TestForceLeave(t *testing.T) {
	a := testagent.Start(t)
	type testcase struct {
		args    []string
		wantErr []string // stderr must contain each
		agent   bool     // the agent is asked: its endpoint must exist
	}
	// Every case fails: forcing out a live member needs a second agent.
	run := func(t *testing.T, tc testcase) {
		r := runCLI(context.Background(), append([]string{"force-leave", "-http-addr=" + a.Addr}, tc.args...)...)
		if r.code != 1 || r.out != "" {
			t.Errorf("exit %d, stdout %q; want 1 and none (stderr %q)", r.code, r.out, r.err)
		}
		for _, want := range tc.wantErr {
			if !strings.Contains(r.err, want) {
				t.Errorf("stderr = %q, want it to contain %q", r.err, want)
			}
		}
		if tc.agent {
			checkEndpointPresent(t, r.err, "PUT /v1/agent/force-leave")
		}
	}
	usage := []string{"A single node name must be specified to force leave.\n\nUsage: muster force-leave", "-prune"}
	cases := map[string]testcase{
		"no node":   {wantErr: usage},
		"two nodes": {args: []string{"-prune", "a", "b"}, wantErr: usage},
		"bad flag":  {args: []string{"-purge", "a"}, wantErr: []string{"flag provided but not defined: -purge"}},
		"unknown node": {
			args:    []string{"no-such-node"},
			wantErr: []string{"Error force leaving: "},
			agent:   true,
		},
		"unknown node pruned": {
			args:    []string{"-prune", "no-such-node"},
			wantErr: []string{"Error force leaving: "},
			agent:   true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}
