package local

import (
	"strings"
	"testing"
	"time"

	"github.com/musterhq/muster/internal/state"
)

// A check becomes cluster-owned by its Owner field or by the service's
// Meta key; only checks the cluster can run may be, and the only owner is
// "cluster".
func TestServiceDefinition_CheckOwner(t *testing.T) {
	httpCheck := func(owner string) *CheckDefinition {
		return &CheckDefinition{HTTP: "http://127.0.0.1:1/", Interval: state.Duration(time.Second), Owner: owner}
	}
	ttlCheck := &CheckDefinition{TTL: state.Duration(time.Minute)}
	cases := []struct {
		name    string
		def     ServiceDefinition
		want    []string // each check's Definition.Owner
		wantErr string
	}{
		{name: "none", def: ServiceDefinition{Name: "s", Check: httpCheck("")}, want: []string{""}},
		{name: "field", def: ServiceDefinition{Name: "s", Check: httpCheck("cluster")}, want: []string{"cluster"}},
		{name: "meta, ttl check stays the agent's",
			def:  ServiceDefinition{Name: "s", Meta: map[string]string{MetaCheckOwner: "cluster"}, Checks: []*CheckDefinition{httpCheck(""), ttlCheck}},
			want: []string{"cluster", ""}},
		{name: "bad owner", def: ServiceDefinition{Name: "s", Check: httpCheck("me")}, wantErr: `invalid Owner "me"`},
		{name: "bad meta", def: ServiceDefinition{Name: "s", Meta: map[string]string{MetaCheckOwner: "x"}}, wantErr: `invalid Meta "muster-check-owner" "x"`},
		{name: "ttl owned", def: ServiceDefinition{Name: "s", Check: &CheckDefinition{TTL: state.Duration(time.Minute), Owner: "cluster"}},
			wantErr: "the cluster runs only HTTP, TCP, UDP and gRPC checks"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, chks, err := tc.def.Service()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range chks {
				got = append(got, c.Health.Definition.Owner)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("owners = %q, want %q", got, tc.want)
			}
		})
	}
}
