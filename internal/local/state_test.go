package local

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/musterhq/muster/internal/checks"
	"github.com/musterhq/muster/internal/state"
)

func newTestState(t *testing.T) *State {
	t.Helper()
	l := New(Config{Node: state.Node{Node: "n1", Address: "127.0.0.1"}, Store: state.New})
	t.Cleanup(l.Close)
	return l
}

func ttlCheck(id string) *Check {
	spec := &checks.Spec{ID: id, TTL: time.Minute}
	return &Check{Health: &state.HealthCheck{CheckID: id, Name: id, Status: state.HealthPassing, Type: "ttl"}, Spec: spec}
}

// Re-registering a TTL check while its application reports never makes a
// report fail: a check is published only with its runner in place.
func TestAddCheck_TTLUpdatesDuringReRegistration(t *testing.T) {
	l := newTestState(t)
	if err := l.AddCheck(ttlCheck("t")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := l.AddCheck(ttlCheck("t")); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := 0; i < 2000; i++ {
		if err := l.UpdateTTL("t", state.HealthPassing, "ok"); err != nil {
			t.Errorf("update %d: %v", i, err)
			break
		}
	}
	close(stop)
	wg.Wait()
}

// A service whose check cannot start is not registered at all, and a
// service that keeps its old checks keeps them running.
func TestAddService_AllOrNothing(t *testing.T) {
	l := newTestState(t)
	script := &Check{Health: &state.HealthCheck{CheckID: "s", Name: "s"},
		Spec: &checks.Spec{ID: "s", Args: []string{"true"}, Interval: time.Hour}}
	err := l.AddService(&state.Service{ID: "web", Service: "web"}, []*Check{ttlCheck("ok"), script}, false)
	if !errors.Is(err, checks.ErrScriptChecksDisabled) {
		t.Fatalf("err = %v, want script checks disabled", err)
	}
	if len(l.Services()) != 0 || len(l.Checks()) != 0 {
		t.Fatalf("half-registered: services %v checks %v", l.Services(), l.Checks())
	}
}

// Script checks from config files run with enable_local_script_checks;
// from the API they need enable_script_checks.
func TestScriptChecks_LocalOnly(t *testing.T) {
	l := New(Config{Node: state.Node{Node: "n1"}, Store: state.New, LocalScriptChecks: true})
	t.Cleanup(l.Close)
	script := func(fromConfig bool) *Check {
		return &Check{Health: &state.HealthCheck{CheckID: "s", Name: "s"}, FromConfig: fromConfig,
			Spec: &checks.Spec{ID: "s", Args: []string{"true"}, Interval: time.Hour}}
	}
	if err := l.AddCheck(script(false)); !errors.Is(err, checks.ErrScriptChecksDisabled) {
		t.Fatalf("API script check with only local scripts enabled: err = %v", err)
	}
	if err := l.AddCheck(script(true)); err != nil {
		t.Fatalf("config script check: %v", err)
	}
}

// A node alias follows the node's own checks only; a service alias the
// node's and the service's.
func TestAliasStatus(t *testing.T) {
	st := state.New()
	err := st.Register(1, 0, &state.Registration{
		Node:    state.Node{Node: "db1", Address: "10.0.0.1"},
		Service: &state.Service{ID: "pg", Service: "pg"},
		Checks: []*state.HealthCheck{
			{CheckID: "node-ok", Status: state.HealthPassing},
			{CheckID: "pg-down", ServiceID: "pg", Status: state.HealthCritical},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		svc, want string
	}{
		"node alias":      {"", state.HealthPassing},
		"service alias":   {"pg", state.HealthCritical},
		"missing service": {"nope", state.HealthCritical},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got, out := aliasStatus(st, memdb.NewWatchSet(), "db1", tc.svc, "self"); got != tc.want {
				t.Fatalf("status %q (%s), want %q", got, out, tc.want)
			}
		})
	}
}
