package discovery_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/internal/testagent"
	"github.com/musterhq/muster/sdk/balance"
	"github.com/musterhq/muster/sdk/discovery"
)

// An instance whose check fails leaves the list, and comes back when it
// passes again, through the blocking query alone.
func TestWatcher_HealthChanges(t *testing.T) {
	a := testagent.Start(t)
	register(t, a, instance{id: "user-1", service: "UserService", addr: "127.0.0.11", port: 5726})
	register(t, a, instance{id: "user-2", service: "UserService", addr: "127.0.0.12", port: 5727})
	r := newResolver(t, a.Client, discovery.Options{})

	insts, err := r.Instances(t.Context(), "UserService")
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(insts); !slices.Equal(got, []string{"user-1", "user-2"}) {
		t.Fatalf("instances = %v, want user-1 and user-2", got)
	}
	w := r.Watch("UserService")
	setHealth(t, a, "user-2", false)
	testagent.WaitFor(t, waitTimeout, "user-2 to leave the list", func() bool {
		return slices.Equal(ids(w.Instances()), []string{"user-1"})
	})
	setHealth(t, a, "user-2", true)
	testagent.WaitFor(t, waitTimeout, "user-2 to come back", func() bool {
		return len(w.Instances()) == 2
	})
	if err := w.Err(); err != nil {
		t.Fatalf("Err = %v after successful queries", err)
	}
}

// How registrations map to instances.
func TestInstances_Mapping(t *testing.T) {
	a := testagent.Start(t)
	r := newResolver(t, a.Client, discovery.Options{})
	type testcase struct {
		reg  instance
		want balance.Instance // Address "node" stands for the node's address
	}
	run := func(t *testing.T, tc testcase) {
		register(t, a, tc.reg)
		insts, err := r.Instances(t.Context(), tc.reg.service)
		if err != nil {
			t.Fatal(err)
		}
		if len(insts) != 1 {
			t.Fatalf("instances = %+v, want one", insts)
		}
		want := tc.want
		if want.Address == "node" {
			want.Address = nodeAddress(t, a.Client, tc.reg.service)
		}
		got := insts[0]
		if got.ID != want.ID || got.Address != want.Address || got.Port != want.Port || got.Weight != want.Weight ||
			!slices.Equal(got.Tags, want.Tags) || len(got.Meta) != len(want.Meta) {
			t.Fatalf("instance = %+v, want %+v", got, want)
		}
		for k, v := range want.Meta {
			if got.Meta[k] != v {
				t.Fatalf("Meta = %v, want %v", got.Meta, want.Meta)
			}
		}
	}
	for name, tc := range map[string]testcase{
		"service address": {
			reg:  instance{id: "a-1", service: "a", addr: "10.0.0.7", port: 80},
			want: balance.Instance{ID: "a-1", Address: "10.0.0.7", Port: 80, Weight: 1},
		},
		"node address when the service has none": {
			reg:  instance{id: "b-1", service: "b", port: 81},
			want: balance.Instance{ID: "b-1", Address: "node", Port: 81, Weight: 1},
		},
		"Weights.Passing": {
			reg:  instance{id: "c-1", service: "c", addr: "10.0.0.7", port: 82, weight: 10},
			want: balance.Instance{ID: "c-1", Address: "10.0.0.7", Port: 82, Weight: 10},
		},
		"the course's weight tag": {
			reg:  instance{id: "d-1", service: "d", addr: "10.0.0.7", port: 83, tags: []string{"5"}},
			want: balance.Instance{ID: "d-1", Address: "10.0.0.7", Port: 83, Weight: 5, Tags: []string{"5"}},
		},
		"meta weight and tags": {
			reg: instance{id: "e-1", service: "e", addr: "10.0.0.7", port: 84, tags: []string{"v2", "primary"},
				meta: map[string]string{"weight": "7", "zone": "b"}},
			want: balance.Instance{ID: "e-1", Address: "10.0.0.7", Port: 84, Weight: 7, Tags: []string{"v2", "primary"},
				Meta: map[string]string{"weight": "7", "zone": "b"}},
		},
	} {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

// nodeAddress is the address of the node that runs service's first
// instance, as the catalog reports it.
func nodeAddress(t *testing.T, c *api.Client, service string) string {
	t.Helper()
	entries, _, err := c.Health().Service(service, "", false, nil)
	if err != nil || len(entries) == 0 {
		t.Fatalf("health of %s: %v %v", service, entries, err)
	}
	return entries[0].Node.Address
}

func TestInstances_TagFilter(t *testing.T) {
	a := testagent.Start(t)
	register(t, a, instance{id: "web-1", service: "web", addr: "10.0.0.1", port: 80, tags: []string{"primary"}})
	register(t, a, instance{id: "web-2", service: "web", addr: "10.0.0.2", port: 80, tags: []string{"canary"}})
	r := newResolver(t, a.Client, discovery.Options{Tag: "primary"})
	insts, err := r.Instances(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(insts); !slices.Equal(got, []string{"web-1"}) {
		t.Fatalf("instances tagged primary = %v, want web-1", got)
	}
}

// A service nobody registered has an empty list, not an error; it fills
// when an instance registers.
func TestInstances_UnknownService(t *testing.T) {
	a := testagent.Start(t)
	r := newResolver(t, a.Client, discovery.Options{})
	insts, err := r.Instances(t.Context(), "ghost")
	if err != nil || insts == nil || len(insts) != 0 {
		t.Fatalf("Instances(ghost) = %v, %v; want an empty list", insts, err)
	}
	if _, err := r.Instances(t.Context(), ""); !errors.Is(err, discovery.ErrNoServiceName) {
		t.Fatalf("Instances(\"\") error = %v, want ErrNoServiceName", err)
	}
	register(t, a, instance{id: "ghost-1", service: "ghost", addr: "10.0.0.1", port: 80})
	w := r.Watch("ghost")
	testagent.WaitFor(t, waitTimeout, "the new instance", func() bool { return len(w.Instances()) == 1 })
}

// With no agent to answer, the first Instances waits until its context
// ends and reports both the context's error and the query's.
func TestInstances_NoAgent(t *testing.T) {
	c, err := api.NewClient(&api.Config{Address: closedAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	r := newResolver(t, c, discovery.Options{BackoffMin: time.Millisecond, BackoffMax: 10 * time.Millisecond})
	w := r.Watch("web")
	testagent.WaitFor(t, waitTimeout, "a failed query", func() bool { return w.Err() != nil })
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	insts, err := r.Instances(ctx, "web")
	if !errors.Is(err, context.DeadlineExceeded) || insts != nil {
		t.Fatalf("Instances = %v, %v; want a deadline error", insts, err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Fatalf("error %v does not carry the failed query's", err)
	}
	if w.Instances() != nil {
		t.Fatalf("Instances before any answer = %v, want nil", w.Instances())
	}
}

// Once the agent is gone, the last good list is still served, and Err says
// why it may be stale.
func TestInstances_LastKnownGood(t *testing.T) {
	a := testagent.Start(t)
	register(t, a, instance{id: "web-1", service: "web", addr: "10.0.0.1", port: 80})
	register(t, a, instance{id: "web-2", service: "web", addr: "10.0.0.2", port: 80})
	r := newResolver(t, a.Client, discovery.Options{BackoffMin: time.Millisecond, BackoffMax: 20 * time.Millisecond})
	if _, err := r.Instances(t.Context(), "web"); err != nil {
		t.Fatal(err)
	}
	a.Shutdown()
	w := r.Watch("web")
	testagent.WaitFor(t, waitTimeout, "a failed query", func() bool { return w.Err() != nil })
	insts, err := r.Instances(t.Context(), "web")
	if err != nil {
		t.Fatalf("Instances with the agent down: %v", err)
	}
	if got := ids(insts); !slices.Equal(got, []string{"web-1", "web-2"}) {
		t.Fatalf("last good list = %v", got)
	}
}

// Close cancels the blocking queries in flight (WaitTime is 10 minutes
// here) and leaves Resolver and Watchers refusing politely.
func TestResolver_Close(t *testing.T) {
	a := testagent.Start(t)
	register(t, a, instance{id: "web-1", service: "web", addr: "10.0.0.1", port: 80})
	r, err := discovery.NewResolver(a.Client, discovery.Options{WaitTime: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Instances(t.Context(), "web"); err != nil {
		t.Fatal(err)
	}
	never := r.Watch("never-answered") // its first query may still be in flight
	closed := make(chan struct{})
	go func() {
		r.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(waitTimeout):
		t.Fatal("Close did not return: the blocking queries were not cancelled")
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := ids(r.Watch("web").Instances()); !slices.Equal(got, []string{"web-1"}) {
		t.Fatalf("list after Close = %v, want the last one", got)
	}
	if _, err := r.Instances(t.Context(), "other"); !errors.Is(err, discovery.ErrClosed) {
		t.Fatalf("Instances after Close: %v, want ErrClosed", err)
	}
	if err := never.Ready(t.Context()); err != nil && !errors.Is(err, discovery.ErrClosed) {
		t.Fatalf("Ready after Close: %v, want nil or ErrClosed", err)
	}
}

// Subscribers get the current list at once, then each change, and nothing
// after cancel.
func TestWatcher_Subscribe(t *testing.T) {
	a := testagent.Start(t)
	register(t, a, instance{id: "web-1", service: "web", addr: "10.0.0.1", port: 80})
	r := newResolver(t, a.Client, discovery.Options{})
	w := r.Watch("web")
	if err := w.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	updates := make(chan []string, 100)
	cancel := w.Subscribe(func(insts []balance.Instance) { updates <- ids(insts) })
	next := func(want ...string) {
		t.Helper()
		select {
		case got := <-updates:
			if !slices.Equal(got, want) {
				t.Fatalf("update = %v, want %v", got, want)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("no update; want %v", want)
		}
	}
	next("web-1")
	register(t, a, instance{id: "web-2", service: "web", addr: "10.0.0.2", port: 80})
	next("web-1", "web-2")
	setHealth(t, a, "web-1", false)
	next("web-2")
	cancel()
	cancel() // twice is fine
	setHealth(t, a, "web-1", true)
	testagent.WaitFor(t, waitTimeout, "web-1 back", func() bool { return len(w.Instances()) == 2 })
	select {
	case got := <-updates:
		t.Fatalf("update %v after cancel", got)
	default:
	}
}

func TestOptions_Validate(t *testing.T) {
	for name, tc := range map[string]struct {
		opts  discovery.Options
		field string // "" for valid
	}{
		"zero":               {discovery.Options{}, ""},
		"wait too long":      {discovery.Options{WaitTime: time.Hour}, "WaitTime"},
		"negative wait":      {discovery.Options{WaitTime: -time.Second}, "WaitTime"},
		"negative backoff":   {discovery.Options{BackoffMin: -1}, "BackoffMin"},
		"max below min":      {discovery.Options{BackoffMin: time.Second, BackoffMax: time.Millisecond}, "BackoffMax"},
		"min above defaults": {discovery.Options{BackoffMin: time.Minute}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.opts.Validate()
			var oe *discovery.OptionError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("Validate = %v, want nil", err)
			case tc.field != "" && (!errors.As(err, &oe) || oe.Field != tc.field):
				t.Fatalf("Validate = %v, want an OptionError on %s", err, tc.field)
			}
		})
	}
	if _, err := discovery.NewResolver(nil, discovery.Options{}); err == nil {
		t.Fatal("NewResolver(nil) succeeded")
	}
}
