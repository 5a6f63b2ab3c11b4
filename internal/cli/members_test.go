package cli_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/musterhq/muster/internal/agent"
	"github.com/musterhq/muster/internal/testagent"
)

func TestMembers(t *testing.T) {
	a := testagent.Start(t)
	type testcase struct {
		args     []string
		wantCode int
		check    func(t *testing.T, lines []string) // stdout, split into lines
		wantErr  string                             // stderr must contain it
	}
	run := func(t *testing.T, tc testcase) {
		r := runCLI(context.Background(), append([]string{"members", "-http-addr=" + a.Addr}, tc.args...)...)
		if r.code != tc.wantCode {
			t.Errorf("exit code = %d, want %d (stderr %q)", r.code, tc.wantCode, r.err)
		}
		if !strings.Contains(r.err, tc.wantErr) || (tc.wantErr == "" && r.err != "") {
			t.Errorf("stderr = %q, want %q", r.err, tc.wantErr)
		}
		if tc.check != nil {
			tc.check(t, strings.Split(strings.TrimSuffix(r.out, "\n"), "\n"))
		} else if r.out != "" {
			t.Errorf("stdout = %q, want none", r.out)
		}
	}
	// table checks Consul's standard columns: the header, then this agent
	// as an alive server, each column starting where its heading does.
	table := func(t *testing.T, lines []string) {
		if len(lines) != 2 {
			t.Fatalf("output = %q, want a header and one member", lines)
		}
		header, row := lines[0], lines[1]
		wantHeader := []string{"Node", "Address", "Status", "Type", "Build", "Protocol", "DC", "Partition", "Segment"}
		if got := strings.Fields(header); strings.Join(got, " ") != strings.Join(wantHeader, " ") {
			t.Errorf("header = %q, want columns %q", header, wantHeader)
		}
		cells := strings.Fields(row)
		if len(cells) != len(wantHeader) {
			t.Fatalf("row = %q, want %d columns", row, len(wantHeader))
		}
		if _, _, err := net.SplitHostPort(cells[1]); err != nil {
			t.Errorf("address %q: %v", cells[1], err)
		}
		cells[1] = "ADDR"
		want := []string{a.Config.NodeName, "ADDR", "alive", "server", agent.Version, "2", a.Config.Datacenter, "default", "<all>"}
		if strings.Join(cells, " ") != strings.Join(want, " ") {
			t.Errorf("row = %q, want %q", cells, want)
		}
		for _, h := range wantHeader[1:] {
			if i := strings.Index(header, h); i < 2 || row[i-2:i] != "  " || row[i] == ' ' {
				t.Errorf("column %s is not aligned:\n%s\n%s", h, header, row)
			}
		}
	}
	cases := map[string]testcase{
		"all":            {check: table},
		"status matches": {args: []string{"-status=^alive$"}, check: table},
		"status matches nobody": {
			args:     []string{"-status=failed|left"},
			wantCode: 2,
		},
		"bad status regexp": {
			args:     []string{"-status=["},
			wantCode: 1,
			wantErr:  "Failed to compile status regexp",
		},
		"detailed": {
			args: []string{"-detailed"},
			check: func(t *testing.T, lines []string) {
				if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "Node Address Status Tags" {
					t.Fatalf("output = %q, want the detailed header and one member", lines)
				}
				cells := strings.Fields(lines[1])
				if len(cells) != 4 || cells[0] != a.Config.NodeName || cells[2] != "alive" {
					t.Fatalf("row = %q", lines[1])
				}
				for _, tag := range []string{"ap=default", "dc=" + a.Config.Datacenter, "role=consul", "segment=<all>", "vsn=2"} {
					if !strings.Contains(","+cells[3]+",", ","+tag+",") {
						t.Errorf("tags %q lack %s", cells[3], tag)
					}
				}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}
