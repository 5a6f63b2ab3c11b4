package state

import (
	"testing"

	"github.com/hashicorp/go-memdb"
)

// Every change to a service's health moves that service's index and fires
// a watch on it, and changes to other services do neither.
func TestServiceIndex_MovesWithEveryHealthChange(t *testing.T) {
	s := New()
	idx := uint64(0)
	next := func() uint64 { idx++; return idx }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Register(next(), 0, &Registration{
		Node:    Node{Node: "n1", Address: "10.0.0.1"},
		Service: &Service{ID: "web1", Service: "web"},
		Checks: []*HealthCheck{
			{CheckID: "node", Status: HealthPassing},
			{CheckID: "web", ServiceID: "web1", Status: HealthPassing},
		},
	}))
	must(s.Register(next(), 0, &Registration{Node: Node{Node: "n2", Address: "10.0.0.2"},
		Service: &Service{ID: "db1", Service: "db"}}))

	tests := []struct {
		name  string
		write func(idx uint64) error
		moves bool
	}{
		{"other service changes", func(i uint64) error {
			return s.Register(i, 0, &Registration{Node: Node{Node: "n2", Address: "10.0.0.2"},
				Service: &Service{ID: "db1", Service: "db", Port: 1}})
		}, false},
		{"service check status", func(i uint64) error {
			return s.EnsureCheck(i, 0, &HealthCheck{Node: "n1", CheckID: "web", ServiceID: "web1", Status: HealthCritical})
		}, true},
		{"node check status", func(i uint64) error {
			return s.EnsureCheck(i, 0, &HealthCheck{Node: "n1", CheckID: "node", Status: HealthWarning})
		}, true},
		{"service check deleted", func(i uint64) error {
			return s.Deregister(i, 0, &Deregistration{Node: "n1", CheckID: "web"})
		}, true},
		{"node check deleted", func(i uint64) error {
			return s.Deregister(i, 0, &Deregistration{Node: "n1", CheckID: "node"})
		}, true},
		{"node address", func(i uint64) error {
			return s.EnsureNode(i, 0, &Node{Node: "n1", Address: "10.0.0.9"})
		}, true},
		{"instance deleted", func(i uint64) error {
			return s.Deregister(i, 0, &Deregistration{Node: "n1", ServiceID: "web1"})
		}, true},
	}
	for _, tc := range tests {
		ws := memdb.NewWatchSet()
		before, _, err := s.ServiceInstances(ws, "web", true)
		must(err)
		i := next()
		must(tc.write(i))
		after, _, err := s.ServiceInstances(nil, "web", true)
		must(err)
		fired := anyClosed(ws)
		if moved := after != before; moved != tc.moves || fired != tc.moves {
			t.Errorf("%s: index %d -> %d, watch fired %v; want moved and fired = %v", tc.name, before, after, fired, tc.moves)
		}
	}
}

// anyClosed reports whether a watch of ws has fired, without waiting.
func anyClosed(ws memdb.WatchSet) bool {
	for ch := range ws {
		select {
		case <-ch:
			return true
		default:
		}
	}
	return false
}

// A service's checks follow its name and tags, and go with it, leaving the
// node's other checks alone.
func TestServiceChecks_FollowAndLeaveWithTheirService(t *testing.T) {
	s := New()
	idx := uint64(0)
	reg := func(svc *Service, checks ...*HealthCheck) {
		t.Helper()
		idx++
		if err := s.Register(idx, 0, &Registration{Node: Node{Node: "n1", Address: "10.0.0.1"}, Service: svc, Checks: checks}); err != nil {
			t.Fatal(err)
		}
	}
	reg(&Service{ID: "web1", Service: "web", Tags: []string{"a"}}, &HealthCheck{CheckID: "c-web", ServiceID: "web1", Status: HealthPassing})
	reg(&Service{ID: "db1", Service: "db"}, &HealthCheck{CheckID: "c-db", ServiceID: "db1", Status: HealthPassing})
	reg(&Service{ID: "web1", Service: "www", Tags: []string{"b"}}) // renamed, retagged

	check := func(id string) *HealthCheck {
		_, all, err := s.NodeChecks(nil, "n1")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range all {
			if c.CheckID == id {
				return c
			}
		}
		return nil
	}
	if c := check("c-web"); c == nil || c.ServiceName != "www" || len(c.ServiceTags) != 1 || c.ServiceTags[0] != "b" {
		t.Fatalf("check after rename: %+v", c)
	}
	idx++
	if err := s.Deregister(idx, 0, &Deregistration{Node: "n1", ServiceID: "web1"}); err != nil {
		t.Fatal(err)
	}
	if check("c-web") != nil || check("c-db") == nil {
		t.Fatalf("after deregistering web1: c-web %+v, c-db %+v", check("c-web"), check("c-db"))
	}
}
