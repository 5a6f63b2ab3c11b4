package musterlock

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/internal/testagent"
	"github.com/musterhq/muster/sdk/lock"
	"github.com/musterhq/muster/sdk/lock/locktest"
)

// TestConformance runs the Locker suite once per acquire algorithm, each
// against its own dev agent.
func TestConformance(t *testing.T) {
	t.Parallel()
	for name, mode := range modes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := testagent.Start(t)
			locktest.Run(t, func(t *testing.T, key string) lock.Locker {
				return newLock(t, a, key, Options{Mode: mode})
			})
		})
	}
}

// TestLost: when the hold's session or key is taken away behind the holder's
// back, Lost closes, Unlock reports ErrLost with the reason, and the key is
// at once free for others (lock-delay 0).
func TestLost(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	raw := a.Client

	type testcase struct {
		interfere  func(t *testing.T, l *Lock)
		wantReason string // in Unlock's error
	}
	cases := map[string]testcase{
		"session destroyed": {
			interfere: func(t *testing.T, l *Lock) {
				if _, err := raw.Session().Destroy(l.Session(), nil); err != nil {
					t.Fatal(err)
				}
			},
			// The renewer or the monitor, whichever sees it first.
			wantReason: "",
		},
		"key deleted": {
			interfere: func(t *testing.T, l *Lock) {
				if _, err := raw.KV().Delete(l.Key(), nil); err != nil {
					t.Fatal(err)
				}
			},
			wantReason: errKeyDeleted.Error(),
		},
		"released by someone else": {
			interfere: func(t *testing.T, l *Lock) {
				ok, _, err := raw.KV().Release(&consul.KVPair{Key: l.Key(), Session: l.Session()}, nil)
				if err != nil || !ok {
					t.Fatalf("Release = %v, %v", ok, err)
				}
			},
			wantReason: errNotOurs.Error(),
		},
	}
	for mname, mode := range modes {
		for cname, tc := range cases {
			t.Run(mname+"/"+cname, func(t *testing.T) {
				t.Parallel()
				ctx := t.Context()
				key := "lost/" + t.Name()
				l := newLock(t, a, key, Options{Mode: mode})
				if err := l.Lock(ctx); err != nil {
					t.Fatalf("Lock: %v", err)
				}
				lost := l.Lost()
				tc.interfere(t, l)
				locktest.WaitClosed(t, lost, "Lost")
				err := l.Unlock(ctx)
				if !errors.Is(err, lock.ErrLost) || !strings.Contains(err.Error(), tc.wantReason) {
					t.Fatalf("Unlock = %v, want ErrLost saying %q", err, tc.wantReason)
				}
				next := newLock(t, a, key, Options{Mode: mode})
				if ok, err := next.TryLock(ctx); !ok || err != nil {
					t.Fatalf("TryLock right after the loss = %v, %v; want true (no lock-delay)", ok, err)
				}
				if err := next.Unlock(ctx); err != nil {
					t.Fatalf("Unlock: %v", err)
				}
			})
		}
	}
}

// TestUnlockCleansUp: after Unlock the key is free and keeps the value, the
// session is gone, and no renewal is sent any more; every hold has its own
// session, renewed while held.
func TestUnlockCleansUp(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	for name, mode := range modes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			c, renewals := countingClient(t, a)
			key := "cleanup/" + name
			l := newLockWith(t, c, key, Options{Mode: mode, Value: []byte("v"), RenewInterval: 20 * time.Millisecond})

			var sessions []string
			for range 2 {
				if err := l.Lock(ctx); err != nil {
					t.Fatalf("Lock: %v", err)
				}
				id := l.Session()
				sessions = append(sessions, id)
				before := renewals.Load()
				testagent.WaitFor(t, waitTimeout, "a renewal during the hold", func() bool { return renewals.Load() > before })
				if err := l.Unlock(ctx); err != nil {
					t.Fatalf("Unlock: %v", err)
				}
				after := renewals.Load()

				p, _, err := a.Client.KV().Get(key, nil)
				if err != nil || p == nil || p.Session != "" || string(p.Value) != "v" {
					t.Fatalf("key after Unlock = %+v, %v; want free with value v", p, err)
				}
				if e, _, err := a.Client.Session().Info(id, nil); e != nil || err != nil {
					t.Fatalf("session after Unlock = %+v, %v; want gone", e, err)
				}
				<-time.After(5 * 20 * time.Millisecond) // five renewal intervals in which none may be sent
				if n := renewals.Load(); n != after {
					t.Fatalf("%d renewals sent after Unlock", n-after)
				}
			}
			if sessions[0] == sessions[1] {
				t.Errorf("two holds shared session %s", sessions[0])
			}
		})
	}
}

// TestNoSessionLeft: failed TryLocks and Locks whose context ended destroy
// the session they made.
func TestNoSessionLeft(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	ctx := t.Context()
	for name, mode := range modes {
		key := "noleft/" + name
		holder := newLock(t, a, key, Options{Mode: mode})
		if err := holder.Lock(ctx); err != nil {
			t.Fatalf("%s: Lock: %v", name, err)
		}
		other := newLock(t, a, key, Options{Mode: mode})
		if ok, err := other.TryLock(ctx); ok || err != nil {
			t.Fatalf("%s: TryLock = %v, %v; want false", name, ok, err)
		}
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		err := other.Lock(wctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: Lock = %v, want DeadlineExceeded", name, err)
		}
		if n := sessionCount(t, a.Client); n != 1 {
			t.Fatalf("%s: %d sessions while one lock is held, want 1", name, n)
		}
		if err := holder.Unlock(ctx); err != nil {
			t.Fatalf("%s: Unlock: %v", name, err)
		}
		if n := sessionCount(t, a.Client); n != 0 {
			t.Fatalf("%s: %d sessions after Unlock, want 0", name, n)
		}
	}
}

// TestAutoDetectsMuster: a ModeAuto Lock recognises muster by the fencing
// token on its first acquire, or, when the key is held, by the token on the
// key, and then waits in the fair queue.
func TestAutoDetectsMuster(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	ctx := t.Context()

	free := newLock(t, a, "detect/free", Options{})
	if ok, err := free.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	if !free.muster.Load() {
		t.Errorf("muster not detected from a successful acquire")
	}

	holder := newLock(t, a, "detect/held", Options{Mode: ModeConsul})
	if err := holder.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	waiter := newLock(t, a, "detect/held", Options{})
	res := make(chan error, 1)
	go func() { res <- waiter.Lock(ctx) }()
	testagent.WaitFor(t, waitTimeout, "the waiter in the server's queue", func() bool {
		w, err := a.FSMState().LockWaiters("detect/held")
		return err == nil && len(w) == 1
	})
	if err := holder.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-res; err != nil {
		t.Fatalf("waiter Lock: %v", err)
	}
	if !waiter.muster.Load() {
		t.Errorf("muster not detected from the held key")
	}
}

// TestFairOrder: on muster, waiters get the lock in the order they started
// waiting, whatever the scheduling.
func TestFairOrder(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	ctx := t.Context()
	const key, waiters = "fair", 5

	holder := newLock(t, a, key, Options{Mode: ModeMuster})
	if err := holder.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		order []int
		wg    sync.WaitGroup
	)
	for i := range waiters {
		l := newLock(t, a, key, Options{Mode: ModeMuster})
		wg.Go(func() {
			if err := l.Lock(ctx); err != nil {
				t.Errorf("waiter %d: Lock: %v", i, err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			if err := l.Unlock(ctx); err != nil {
				t.Errorf("waiter %d: Unlock: %v", i, err)
			}
		})
		testagent.WaitFor(t, waitTimeout, "the waiter in the server's queue", func() bool {
			w, err := a.FSMState().LockWaiters(key)
			return err == nil && len(w) == i+1
		})
	}
	if err := holder.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, got := range order {
		if got != i {
			t.Fatalf("acquisition order %v, want 0..%d", order, waiters-1)
		}
	}
}

// TestLockCancelLeavesQueue: a fair waiter whose context ends leaves the
// queue, so the lock passes to the next waiter, not to it.
func TestLockCancelLeavesQueue(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	ctx := t.Context()
	const key = "cancel-queue"
	holder := newLock(t, a, key, Options{Mode: ModeMuster})
	if err := holder.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	quitter := newLock(t, a, key, Options{Mode: ModeMuster})
	qctx, cancel := context.WithCancel(ctx)
	res := make(chan error, 1)
	go func() { res <- quitter.Lock(qctx) }()
	testagent.WaitFor(t, waitTimeout, "the quitter in the queue", func() bool {
		w, err := a.FSMState().LockWaiters(key)
		return err == nil && len(w) == 1
	})
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("quitter Lock = %v, want Canceled", err)
	}
	testagent.WaitFor(t, waitTimeout, "the queue to empty", func() bool {
		w, err := a.FSMState().LockWaiters(key)
		return err == nil && len(w) == 0
	})
	if err := holder.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	next := newLock(t, a, key, Options{Mode: ModeMuster})
	if ok, err := next.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock after the quitter left = %v, %v; want true", ok, err)
	}
}

// TestTokenModes: with Consul's algorithm the token is the key's
// ModifyIndex at the acquire; on muster's path it is the server's fencing
// token. On muster the two are the same number.
func TestTokenModes(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	ctx := t.Context()
	for name, mode := range modes {
		key := "token/" + name
		l := newLock(t, a, key, Options{Mode: mode})
		if err := l.Lock(ctx); err != nil {
			t.Fatalf("%s: Lock: %v", name, err)
		}
		p, _, err := a.Client.KV().Get(key, nil)
		if err != nil || p == nil {
			t.Fatalf("%s: Get = %v, %v", name, p, err)
		}
		if l.Token() != p.ModifyIndex {
			t.Errorf("%s: Token = %d, key's ModifyIndex = %d", name, l.Token(), p.ModifyIndex)
		}
		if err := l.Unlock(ctx); err != nil {
			t.Fatalf("%s: Unlock: %v", name, err)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		opts  Options
		field string // "" for valid
	}{
		"zero":                 {opts: Options{}},
		"ttl too short":        {opts: Options{SessionTTL: 5 * time.Second}, field: "SessionTTL"},
		"renew not under ttl":  {opts: Options{SessionTTL: 10 * time.Second, RenewInterval: 10 * time.Second}, field: "RenewInterval"},
		"negative lock delay":  {opts: Options{LockDelay: -1}, field: "LockDelay"},
		"lock delay too long":  {opts: Options{LockDelay: 61 * time.Second}, field: "LockDelay"},
		"wait too long":        {opts: Options{WaitTime: 11 * time.Minute}, field: "WaitTime"},
		"retry max under min":  {opts: Options{RetryMin: time.Second, RetryMax: time.Millisecond}, field: "RetryMax"},
		"unknown mode":         {opts: Options{Mode: 7}, field: "Mode"},
		"negative monitor try": {opts: Options{MonitorRetryTime: -1}, field: "MonitorRetryTime"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tc.opts.Validate()
			var oe *OptionError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("Validate = %v, want nil", err)
			case tc.field != "" && (!errors.As(err, &oe) || oe.Field != tc.field):
				t.Fatalf("Validate = %v, want an OptionError for %s", err, tc.field)
			}
		})
	}
	if _, err := New(nil, "k", Options{}); err == nil {
		t.Errorf("New with a nil client succeeded")
	}
}

// TestAgentGone: when the agent stops answering, the hold is declared lost
// (the watch fails MonitorRetries+1 times, or renewals fail for a whole
// TTL), and Unlock, unable to release, reports the loss.
func TestAgentGone(t *testing.T) {
	t.Parallel()
	for name, mode := range modes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := testagent.Start(t)
			ctx := t.Context()
			l := newLock(t, a, "gone", Options{Mode: mode, MonitorRetries: 2, MonitorRetryTime: 20 * time.Millisecond})
			if err := l.Lock(ctx); err != nil {
				t.Fatal(err)
			}
			lost := l.Lost()
			if err := a.Shutdown(); err != nil {
				t.Fatal(err)
			}
			locktest.WaitClosed(t, lost, "Lost after the agent stopped")
			if err := l.Unlock(ctx); !errors.Is(err, lock.ErrLost) {
				t.Fatalf("Unlock = %v, want ErrLost", err)
			}
		})
	}
}
