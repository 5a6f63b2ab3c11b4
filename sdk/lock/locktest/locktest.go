// Package locktest is the conformance suite for lock.Locker backends.
//
// It is a test helper: import it only from _test.go files. A backend's test
// calls Run with a constructor, and the suite checks the contract documented
// on lock.Locker against a live backend:
//
//	func TestConformance(t *testing.T) {
//		srv := startServer(t)
//		locktest.Run(t, func(t *testing.T, key string) lock.Locker {
//			return newLocker(t, srv, key)
//		})
//	}
package locktest

import (
	"context"
	"crypto/rand"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/musterhq/muster/sdk/lock"
)

// HoldWindow is how long the suite holds a lock while checking that Lost
// stays open. Backends should give the Lockers they build for Run a lease
// well under it (a few hundred milliseconds), so the window spans several
// renewals.
const HoldWindow = 750 * time.Millisecond

// waitTimeout bounds every wait in the suite that should end promptly.
const waitTimeout = 10 * time.Second

// Run runs the conformance suite as parallel subtests of t. newLocker must
// return a new Locker on key each time it is called, as if for a separate
// process (its own connection where the backend has one), and register any
// cleanup with t.Cleanup. Each subtest uses its own keys.
func Run(t *testing.T, newLocker func(t *testing.T, key string) lock.Locker) {
	tests := map[string]func(t *testing.T, newLocker func(*testing.T, string) lock.Locker){
		"MutualExclusion":       testMutualExclusion,
		"TryLock":               testTryLock,
		"NotReentrant":          testNotReentrant,
		"UnlockNotHeld":         testUnlockNotHeld,
		"TokensIncrease":        testTokensIncrease,
		"LockHonoursContext":    testLockHonoursContext,
		"LostDuringNormalHold":  testLostDuringNormalHold,
		"WithLockUnlocksOnExit": testWithLockUnlocksOnExit,
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, newLocker)
		})
	}
}

// newKey returns a key unique to t and to this run, so suites against a
// shared, long-lived backend do not collide.
func newKey(t *testing.T) string {
	return "locktest/" + strings.ReplaceAll(t.Name(), "/", "-") + "/" + rand.Text()[:8]
}

// testMutualExclusion has N contenders increment a plain counter M times
// each, guarded only by the lock. A lost update shows as a short count; an
// overlap is also caught directly by the inside counter.
func testMutualExclusion(t *testing.T, newLocker func(*testing.T, string) lock.Locker) {
	const contenders, increments = 8, 25
	key := newKey(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*waitTimeout)
	defer cancel()

	var (
		counter  int          // guarded by the lock under test only
		inside   atomic.Int32 // holders currently inside the critical section
		overlaps atomic.Int32
		wg       sync.WaitGroup
		errs     = make(chan error, contenders)
	)
	for range contenders {
		l := newLocker(t, key)
		wg.Go(func() {
			for range increments {
				err := lock.WithLock(ctx, l, func(context.Context) error {
					if inside.Add(1) != 1 {
						overlaps.Add(1)
					}
					c := counter
					runtime.Gosched() // widen the window for a lost update
					counter = c + 1
					inside.Add(-1)
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("WithLock: %v", err)
	}
	if n := overlaps.Load(); n != 0 {
		t.Errorf("%d times a holder entered while another was inside", n)
	}
	if want := contenders * increments; counter != want {
		t.Errorf("counter = %d, want %d (lost updates)", counter, want)
	}
}

func testTryLock(t *testing.T, newLocker func(*testing.T, string) lock.Locker) {
	ctx := t.Context()
	key := newKey(t)
	a, b := newLocker(t, key), newLocker(t, key)

	mustTryLock(t, a, true)
	mustTryLock(t, b, false)
	if got := b.Token(); got != 0 {
		t.Errorf("loser's Token = %d, want 0", got)
	}
	mustUnlock(t, a)
	mustTryLock(t, b, true)
	mustTryLock(t, a, false)
	mustUnlock(t, b)
	if ok, err := a.TryLock(ctx); err != nil || !ok {
		t.Fatalf("TryLock after both released = %v, %v; want true", ok, err)
	}
	mustUnlock(t, a)
}

func testNotReentrant(t *testing.T, newLocker func(*testing.T, string) lock.Locker) {
	ctx := t.Context()
	l := newLocker(t, newKey(t))
	mustLock(t, l)
	if ok, err := l.TryLock(ctx); ok || !errors.Is(err, lock.ErrHeld) {
		t.Errorf("TryLock while held = %v, %v; want false, ErrHeld", ok, err)
	}
	if err := l.Lock(ctx); !errors.Is(err, lock.ErrHeld) {
		t.Errorf("Lock while held = %v, want ErrHeld", err)
	}
	mustUnlock(t, l) // the first hold is intact
}

func testUnlockNotHeld(t *testing.T, newLocker func(*testing.T, string) lock.Locker) {
	ctx := t.Context()
	key := newKey(t)
	l := newLocker(t, key)
	if err := l.Unlock(ctx); !errors.Is(err, lock.ErrNotHeld) {
		t.Errorf("Unlock before any Lock = %v, want ErrNotHeld", err)
	}
	mustLock(t, l)
	mustUnlock(t, l)
	if err := l.Unlock(ctx); !errors.Is(err, lock.ErrNotHeld) {
		t.Errorf("second Unlock = %v, want ErrNotHeld", err)
	}

	// Unlock by a Locker that lost the race must not free the winner's hold.
	other := newLocker(t, key)
	mustLock(t, l)
	if err := other.Unlock(ctx); !errors.Is(err, lock.ErrNotHeld) {
		t.Errorf("Unlock by a non-holder = %v, want ErrNotHeld", err)
	}
	mustTryLock(t, other, false)
	mustUnlock(t, l)
}

func testTokensIncrease(t *testing.T, newLocker func(*testing.T, string) lock.Locker) {
	key := newKey(t)
	lockers := []lock.Locker{newLocker(t, key), newLocker(t, key), newLocker(t, key)}
	var last uint64
	for i := range 9 {
		l := lockers[i%len(lockers)]
		if got := l.Token(); got != 0 {
			t.Fatalf("hold %d: Token before Lock = %d, want 0", i, got)
		}
		if i%2 == 0 {
			mustLock(t, l)
		} else {
			mustTryLock(t, l, true)
		}
		tok := l.Token()
		if tok <= last {
			t.Fatalf("hold %d: Token = %d, want > %d", i, tok, last)
		}
		if again := l.Token(); again != tok {
			t.Fatalf("hold %d: Token changed during the hold: %d then %d", i, tok, again)
		}
		last = tok
		mustUnlock(t, l)
		if got := l.Token(); got != 0 {
			t.Fatalf("hold %d: Token after Unlock = %d, want 0", i, got)
		}
	}
}

func testLockHonoursContext(t *testing.T, newLocker func(*testing.T, string) lock.Locker) {
	key := newKey(t)
	holder := newLocker(t, key)
	mustLock(t, holder)

	cases := map[string]struct {
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		"deadline": {
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(t.Context(), 50*time.Millisecond)
			},
			want: context.DeadlineExceeded,
		},
		"cancel": {
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(t.Context())
				time.AfterFunc(50*time.Millisecond, cancel)
				return ctx, cancel
			},
			want: context.Canceled,
		},
		"already done": {
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				return ctx, cancel
			},
			want: context.Canceled,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			waiter := newLocker(t, key)
			ctx, cancel := tc.ctx()
			defer cancel()
			res := make(chan error, 1)
			go func() { res <- waiter.Lock(ctx) }()
			select {
			case err := <-res:
				if !errors.Is(err, tc.want) {
					t.Fatalf("Lock = %v, want an error wrapping %v", err, tc.want)
				}
			case <-time.After(waitTimeout):
				t.Fatalf("Lock still blocked %v after its context ended", waitTimeout)
			}
			if got := waiter.Token(); got != 0 {
				t.Errorf("Token after a cancelled Lock = %d, want 0", got)
			}
			if err := waiter.Unlock(t.Context()); !errors.Is(err, lock.ErrNotHeld) {
				t.Errorf("Unlock after a cancelled Lock = %v, want ErrNotHeld", err)
			}
		})
	}

	// The holder was undisturbed, and a waiter that gave up can try again.
	mustUnlock(t, holder)
	again := newLocker(t, key)
	mustLock(t, again)
	mustUnlock(t, again)
}

func testLostDuringNormalHold(t *testing.T, newLocker func(*testing.T, string) lock.Locker) {
	l := newLocker(t, newKey(t))
	if !IsClosed(l.Lost()) {
		t.Errorf("Lost before any hold is open, want closed")
	}
	for hold := range 2 {
		mustLock(t, l)
		lost := l.Lost()
		if IsClosed(lost) {
			t.Fatalf("hold %d: Lost closed right after Lock", hold)
		}
		select {
		case <-lost:
			t.Fatalf("hold %d: Lost closed during a normal hold of %v", hold, HoldWindow)
		case <-time.After(HoldWindow):
		}
		mustUnlock(t, l)
		if !IsClosed(lost) {
			t.Errorf("hold %d: Lost still open after Unlock", hold)
		}
	}
}

func testWithLockUnlocksOnExit(t *testing.T, newLocker func(*testing.T, string) lock.Locker) {
	key := newKey(t)
	l, probe := newLocker(t, key), newLocker(t, key)
	errFn := errors.New("fn failed")

	cases := map[string]struct {
		fn        func(ctx context.Context) error
		wantErr   error
		wantPanic bool
	}{
		"nil":   {fn: func(context.Context) error { return nil }},
		"error": {fn: func(context.Context) error { return errFn }, wantErr: errFn},
		"panic": {fn: func(context.Context) error { panic("fn panicked") }, wantPanic: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var err error
			panicked := func() (p bool) {
				defer func() { p = recover() != nil }()
				err = lock.WithLock(t.Context(), l, func(ctx context.Context) error {
					if l.Token() == 0 {
						t.Errorf("Token inside WithLock = 0")
					}
					mustTryLock(t, probe, false)
					return tc.fn(ctx)
				})
				return false
			}()
			if panicked != tc.wantPanic {
				t.Errorf("panicked = %v, want %v", panicked, tc.wantPanic)
			}
			if !tc.wantPanic && !errors.Is(err, tc.wantErr) {
				t.Errorf("WithLock = %v, want %v", err, tc.wantErr)
			}
			if got := l.Token(); got != 0 {
				t.Errorf("Token after WithLock = %d, want 0 (not unlocked)", got)
			}
			mustTryLock(t, probe, true)
			mustUnlock(t, probe)
		})
	}
}

func mustLock(t *testing.T, l lock.Locker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	if err := l.Lock(ctx); err != nil {
		t.Fatalf("Lock: %v", err)
	}
	if l.Token() == 0 {
		t.Fatalf("Token after Lock = 0")
	}
}

func mustTryLock(t *testing.T, l lock.Locker, want bool) {
	t.Helper()
	ok, err := l.TryLock(t.Context())
	if err != nil || ok != want {
		t.Fatalf("TryLock = %v, %v; want %v, nil", ok, err, want)
	}
}

func mustUnlock(t *testing.T, l lock.Locker) {
	t.Helper()
	if err := l.Unlock(t.Context()); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
}

// IsClosed reports whether c is closed, without blocking. Backend tests use
// it on Lost channels.
func IsClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// WaitClosed waits up to the suite's wait bound for c to be closed, failing
// t with what if it is not.
func WaitClosed(t testing.TB, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(waitTimeout):
		t.Fatalf("%s: not closed within %v", what, waitTimeout)
	}
}
