package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/musterhq/muster/internal/testagent"
)

func TestOperatorGroupsPrintHelp(t *testing.T) {
	type testcase struct {
		args     []string
		wantCode int
		wantErr  []string // stderr must contain each
	}
	run := func(t *testing.T, tc testcase) {
		r := runCLI(context.Background(), tc.args...)
		if r.code != tc.wantCode || r.out != "" {
			t.Errorf("exit %d, stdout %q; want %d and none (stderr %q)", r.code, r.out, tc.wantCode, r.err)
		}
		for _, want := range tc.wantErr {
			if !strings.Contains(r.err, want) {
				t.Errorf("stderr = %q, want it to contain %q", r.err, want)
			}
		}
	}
	operator := []string{"Usage: muster operator <subcommand>", "\n    raft "}
	raft := []string{"Usage: muster operator raft <subcommand>", "\n    list-peers Display", "\n    remove-peer Remove"}
	cases := map[string]testcase{
		"operator alone":   {args: []string{"operator"}, wantCode: 1, wantErr: operator},
		"operator unknown": {args: []string{"operator", "autopilot"}, wantCode: 1, wantErr: operator},
		"operator help":    {args: []string{"operator", "-h"}, wantCode: 0, wantErr: operator},
		"raft alone":       {args: []string{"operator", "raft"}, wantCode: 1, wantErr: raft},
		"raft unknown":     {args: []string{"operator", "raft", "transfer-leader"}, wantCode: 1, wantErr: raft},
		"raft help":        {args: []string{"operator", "raft", "--help"}, wantCode: 0, wantErr: raft},
		"list-peers help":  {args: []string{"operator", "raft", "list-peers", "-h"}, wantCode: 0, wantErr: []string{"Usage: muster operator raft list-peers", "-stale"}},
		"remove-peer help": {args: []string{"operator", "raft", "remove-peer", "-h"}, wantCode: 0, wantErr: []string{"Usage: muster operator raft remove-peer", "-address", "-id"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func TestOperatorRaftListPeers(t *testing.T) {
	a := testagent.Start(t)
	cfg, err := a.Client.Operator().RaftGetConfiguration(nil)
	if err != nil || len(cfg.Servers) != 1 {
		t.Fatalf("raft configuration: %+v, %v", cfg, err)
	}
	self := cfg.Servers[0]
	type testcase struct {
		args     []string
		wantCode int
		wantErr  string // stderr must contain it; empty means no stderr
	}
	// table checks Consul's columns: the header, then this agent as the
	// voting leader, each column starting where its heading does.
	table := func(t *testing.T, out string) {
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("output = %q, want a header and one peer", out)
		}
		header, row := lines[0], lines[1]
		wantHeader := []string{"Node", "ID", "Address", "State", "Voter", "RaftProtocol"}
		if got := strings.Fields(header); strings.Join(got, " ") != strings.Join(wantHeader, " ") {
			t.Errorf("header = %q, want columns %q", header, wantHeader)
		}
		want := []string{a.Config.NodeName, self.ID, self.Address, "leader", "true", "3"}
		if got := strings.Fields(row); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("row = %q, want %q", got, want)
		}
		for _, h := range wantHeader[1:] {
			if i := strings.Index(header, h); i < 2 || i >= len(row) || row[i-2:i] != "  " || row[i] == ' ' {
				t.Errorf("column %s is not aligned:\n%s\n%s", h, header, row)
			}
		}
		if strings.HasSuffix(header, " ") || strings.HasSuffix(row, " ") {
			t.Errorf("trailing spaces:\n%q\n%q", header, row)
		}
	}
	run := func(t *testing.T, tc testcase) {
		r := runCLI(context.Background(), append([]string{"operator", "raft", "list-peers", "-http-addr=" + a.Addr}, tc.args...)...)
		if r.code != tc.wantCode {
			t.Errorf("exit code = %d, want %d (stderr %q)", r.code, tc.wantCode, r.err)
		}
		if !strings.Contains(r.err, tc.wantErr) || (tc.wantErr == "" && r.err != "") {
			t.Errorf("stderr = %q, want %q", r.err, tc.wantErr)
		}
		if tc.wantCode == 0 {
			table(t, r.out)
		} else if r.out != "" {
			t.Errorf("stdout = %q, want none", r.out)
		}
	}
	cases := map[string]testcase{
		"leader": {},
		"stale":  {args: []string{"-stale"}},
		"own datacenter": {
			args: []string{"-datacenter=" + a.Config.Datacenter},
		},
		"other datacenter": {
			args:     []string{"-datacenter=elsewhere"},
			wantCode: 1,
			wantErr:  "Error getting peers: Failed to retrieve raft configuration: Unexpected response code: ",
		},
		"bad flag": {
			args:     []string{"-wan"},
			wantCode: 1,
			wantErr:  "flag provided but not defined: -wan",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func TestOperatorRaftRemovePeer(t *testing.T) {
	a := testagent.Start(t)
	type testcase struct {
		args    []string
		wantErr string
		agent   bool // the agent is asked: its endpoint must exist
	}
	// Every case fails: removing a live peer needs a second server.
	run := func(t *testing.T, tc testcase) {
		r := runCLI(context.Background(), append([]string{"operator", "raft", "remove-peer", "-http-addr=" + a.Addr}, tc.args...)...)
		if r.code != 1 || r.out != "" || !strings.Contains(r.err, tc.wantErr) {
			t.Errorf("exit %d, stdout %q, stderr %q; want 1, none and %q", r.code, r.out, r.err, tc.wantErr)
		}
		if tc.agent {
			checkEndpointPresent(t, r.err, "DELETE /v1/operator/raft/peer")
		}
		cfg, err := a.Client.Operator().RaftGetConfiguration(nil)
		if err != nil || len(cfg.Servers) != 1 || !cfg.Servers[0].Leader {
			t.Errorf("raft configuration after a failed remove-peer: %+v, %v", cfg, err)
		}
	}
	cases := map[string]testcase{
		"neither": {
			wantErr: "Error removing peer: an address or id is required for the peer to remove\n",
		},
		"both": {
			args:    []string{"-id=x", "-address=10.0.0.1:8300"},
			wantErr: "Error removing peer: cannot give both an address and id\n",
		},
		"bad flag": {
			args:    []string{"-node=x"},
			wantErr: "flag provided but not defined: -node",
		},
		"unknown id": {
			args:    []string{"-id=00000000-0000-0000-0000-000000000000"},
			wantErr: "Error removing peer: ",
			agent:   true,
		},
		"unknown address": {
			args:    []string{"-address=" + unreachable},
			wantErr: "Error removing peer: ",
			agent:   true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}
