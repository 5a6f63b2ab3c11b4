package cli_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/musterhq/muster/internal/testagent"
)

// unreachable is an address where nothing listens.
const unreachable = "127.0.0.1:1"

// checkEndpointPresent fails t if stderr shows the agent answering 404 or
// 405: the HTTP endpoint the command calls does not exist on it, so the
// command's error path was reached for the wrong reason.
func checkEndpointPresent(t *testing.T, stderr, endpoint string) {
	t.Helper()
	for _, code := range []string{"404", "405"} {
		if strings.Contains(stderr, "Unexpected response code: "+code) {
			t.Errorf("the agent has no %s (answered %s): %q", endpoint, code, stderr)
		}
	}
}

// gossipAddr is the agent's own LAN gossip address, as /v1/agent/members
// reports it.
func gossipAddr(t *testing.T, a *testagent.Agent) string {
	t.Helper()
	members, err := a.Client.Agent().Members(false)
	if err != nil || len(members) == 0 {
		t.Fatalf("members: %v %v", members, err)
	}
	return net.JoinHostPort(members[0].Addr, strconv.Itoa(int(members[0].Port)))
}

func TestJoin(t *testing.T) {
	a := testagent.Start(t)
	type testcase struct {
		args     []string
		wantCode int
		wantOut  string
		wantErr  []string // stderr must contain each
		agent    bool     // the agent is asked: its endpoint must exist
	}
	run := func(t *testing.T, tc testcase) {
		r := runCLI(context.Background(), append([]string{"join", "-http-addr=" + a.Addr}, tc.args...)...)
		if r.code != tc.wantCode {
			t.Errorf("exit code = %d, want %d (stderr %q)", r.code, tc.wantCode, r.err)
		}
		if r.out != tc.wantOut {
			t.Errorf("stdout = %q, want %q", r.out, tc.wantOut)
		}
		for _, want := range tc.wantErr {
			if !strings.Contains(r.err, want) {
				t.Errorf("stderr = %q, want it to contain %q", r.err, want)
			}
		}
		if len(tc.wantErr) == 0 && r.err != "" {
			t.Errorf("stderr = %q, want none", r.err)
		}
		if tc.agent {
			checkEndpointPresent(t, r.err, "PUT /v1/agent/join")
		}
	}
	cases := map[string]testcase{
		"no address": {
			wantCode: 1,
			wantErr:  []string{"At least one address to join must be specified.\n\nUsage: muster join", "-wan"},
		},
		"bad flag": {
			args:     []string{"-lan", "10.0.0.1"},
			wantCode: 1,
			wantErr:  []string{"flag provided but not defined: -lan"},
		},
		"unreachable": {
			args:     []string{unreachable},
			wantCode: 1,
			wantErr:  []string{"Error joining address '" + unreachable + "': ", "\nFailed to join any nodes.\n"},
			agent:    true,
		},
		"unreachable wan": {
			args:     []string{"-wan", unreachable},
			wantCode: 1,
			wantErr:  []string{"Error joining address '" + unreachable + "': ", "\nFailed to join any nodes.\n"},
			agent:    true,
		},
		// As a Consul agent, a muster agent can join its own gossip address;
		// one join out of two is a success.
		"one of two": {
			args:    []string{gossipAddr(t, a), unreachable},
			wantOut: "Successfully joined cluster by contacting 1 nodes.\n",
			wantErr: []string{"Error joining address '" + unreachable + "': "},
			agent:   true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}
