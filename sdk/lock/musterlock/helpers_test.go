package musterlock

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/internal/testagent"
)

// waitTimeout bounds every wait for something that should happen promptly.
const waitTimeout = 10 * time.Second

// testRenew is the renewal interval of the Locks the tests build: the
// session TTL cannot go under 10s, so renewing often is how a test window
// spans several renewals.
const testRenew = 100 * time.Millisecond

// modes are the acquire algorithms every behaviour is checked under, all
// against muster: Consul's algorithm is forced to test it without a Consul.
var modes = map[string]Mode{"auto": ModeAuto, "muster": ModeMuster, "consul": ModeConsul}

// newClient returns a client of the agent, with its own connection pool, as
// a separate process would have.
func newClient(t testing.TB, a *testagent.Agent) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: a.Addr})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newLock returns a Lock on key with its own client; a hold still open when
// t ends is released in t.Cleanup, before the agent stops.
func newLock(t testing.TB, a *testagent.Agent, key string, opts Options) *Lock {
	t.Helper()
	return newLockWith(t, newClient(t, a), key, opts)
}

func newLockWith(t testing.TB, c *api.Client, key string, opts Options) *Lock {
	t.Helper()
	if opts.RenewInterval == 0 {
		opts.RenewInterval = testRenew
	}
	l, err := New(c, key, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = l.Unlock(context.Background()) })
	return l
}

// newSemaphore returns a Semaphore with its own client, released in
// t.Cleanup.
func newSemaphore(t testing.TB, a *testagent.Agent, prefix string, limit int) *Semaphore {
	t.Helper()
	s, err := NewSemaphore(newClient(t, a), prefix, limit, SemaphoreOptions{RenewInterval: testRenew})
	if err != nil {
		t.Fatalf("NewSemaphore: %v", err)
	}
	t.Cleanup(func() { _ = s.Release(context.Background()) })
	return s
}

// countingClient returns a client of the agent that counts the session
// renewals it sends.
func countingClient(t testing.TB, a *testagent.Agent) (*api.Client, *atomic.Int64) {
	t.Helper()
	n := new(atomic.Int64)
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasPrefix(r.URL.Path, "/v1/session/renew/") {
			n.Add(1)
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	c, err := api.NewClient(&api.Config{Address: a.Addr, HTTPClient: &http.Client{Transport: rt}})
	if err != nil {
		t.Fatal(err)
	}
	return c, n
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// sessionCount returns how many sessions the agent knows.
func sessionCount(t testing.TB, c *api.Client) int {
	t.Helper()
	list, _, err := c.Session().List(nil)
	if err != nil {
		t.Fatalf("session list: %v", err)
	}
	return len(list)
}
