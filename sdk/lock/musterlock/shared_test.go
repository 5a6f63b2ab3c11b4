package musterlock

import (
	"context"
	"errors"
	"testing"

	"github.com/musterhq/muster/internal/testagent"
	"github.com/musterhq/muster/sdk/lock"
	"github.com/musterhq/muster/sdk/lock/locktest"
)

// newShared returns a Session with its own client, closed in t.Cleanup
// after the Locks using it have been unlocked (cleanups run last in first).
func newShared(t testing.TB, a *testagent.Agent) *Session {
	t.Helper()
	s, err := NewSession(context.Background(), newClient(t, a), SessionOptions{Name: t.Name(), RenewInterval: testRenew})
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// TestSharedConformance runs the Locker suite with one shared Session per
// contender, in every mode.
func TestSharedConformance(t *testing.T) {
	t.Parallel()
	for name, mode := range modes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := testagent.Start(t)
			locktest.Run(t, func(t *testing.T, key string) lock.Locker {
				return newLock(t, a, key, Options{Mode: mode, Session: newShared(t, a)})
			})
		})
	}
}

// TestSharedSessionOutlivesHolds: holds on a shared Session create and
// destroy no sessions, Unlock leaves the session alive, and one session can
// hold several keys at once.
func TestSharedSessionOutlivesHolds(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	s := newShared(t, a)
	l1 := newLock(t, a, "shared/one", Options{Session: s})
	l2 := newLock(t, a, "shared/two", Options{Session: s})
	ctx := context.Background()
	for round := range 3 {
		if err := l1.Lock(ctx); err != nil {
			t.Fatalf("round %d: Lock one: %v", round, err)
		}
		if ok, err := l2.TryLock(ctx); !ok || err != nil {
			t.Fatalf("round %d: TryLock two = %v, %v", round, ok, err)
		}
		if l1.Session() != s.ID() || l2.Session() != s.ID() {
			t.Fatalf("holds use sessions %q and %q, want the shared %q", l1.Session(), l2.Session(), s.ID())
		}
		if n := sessionCount(t, a.Client); n != 1 {
			t.Fatalf("round %d: %d sessions, want only the shared one", round, n)
		}
		if err := l1.Unlock(ctx); err != nil {
			t.Fatalf("Unlock one: %v", err)
		}
		if err := l2.Unlock(ctx); err != nil {
			t.Fatalf("Unlock two: %v", err)
		}
	}
	if e, _, err := a.Client.Session().Info(s.ID(), nil); err != nil || e == nil {
		t.Fatalf("shared session after the holds: %v, %v; want it alive", e, err)
	}
	if k, _, _ := a.Client.KV().Get("shared/one", nil); k == nil || k.Session != "" {
		t.Errorf("key after Unlock: %+v, want present and free", k)
	}
}

// TestSharedSessionClose: closing the Session loses its holds and frees
// their keys; a Lock on a closed Session fails at once.
func TestSharedSessionClose(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	s := newShared(t, a)
	l := newLock(t, a, "shared/close", Options{Session: s})
	ctx := context.Background()
	if err := l.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	locktest.WaitClosed(t, l.Lost(), "Lost after Session.Close")
	locktest.WaitClosed(t, s.Done(), "Session.Done after Close")
	if err := l.Unlock(ctx); !errors.Is(err, lock.ErrLost) {
		t.Errorf("Unlock after Close = %v, want ErrLost", err)
	}
	other := newLock(t, a, "shared/close", Options{})
	if ok, err := other.TryLock(ctx); !ok || err != nil {
		t.Errorf("TryLock by another after Close = %v, %v; want the key free", ok, err)
	}
	if err := l.Lock(ctx); err == nil {
		t.Error("Lock on a closed Session succeeded")
	}
	if n := sessionCount(t, a.Client); n != 1 {
		t.Errorf("%d sessions, want only the other Lock's", n)
	}
}

// TestSharedSessionLost: a session destroyed behind the Session's back
// loses the hold and reports why through Err.
func TestSharedSessionLost(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	s := newShared(t, a)
	l := newLock(t, a, "shared/lost", Options{Session: s})
	ctx := context.Background()
	if err := l.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Client.Session().Destroy(s.ID(), nil); err != nil {
		t.Fatal(err)
	}
	locktest.WaitClosed(t, l.Lost(), "Lost after the session was destroyed")
	locktest.WaitClosed(t, s.Done(), "Session.Done after the session was destroyed")
	if s.Err() == nil {
		t.Error("Session.Err = nil after the session was lost")
	}
	if err := l.Unlock(ctx); !errors.Is(err, lock.ErrLost) {
		t.Errorf("Unlock = %v, want ErrLost", err)
	}
}
