package musterlock

import (
	"context"
	"errors"
	"path"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/internal/testagent"
	"github.com/musterhq/muster/sdk/lock"
	"github.com/musterhq/muster/sdk/lock/locktest"
)

// TestSemaphoreLimit: 8 contenders on 3 slots, each holding a few times
// briefly: never more than 3 inside, and everyone gets in.
func TestSemaphoreLimit(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 6*waitTimeout)
	defer cancel()
	const limit, contenders, rounds = 3, 8, 3

	var (
		inside, most atomic.Int32
		entries      [contenders]atomic.Int32
		wg           sync.WaitGroup
	)
	for i := range contenders {
		s := newSemaphore(t, a, "sem/limit", limit)
		wg.Go(func() {
			for range rounds {
				if err := s.Acquire(ctx); err != nil {
					t.Errorf("contender %d: Acquire: %v", i, err)
					return
				}
				n := inside.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				entries[i].Add(1)
				<-time.After(5 * time.Millisecond) // hold briefly, so holds overlap
				inside.Add(-1)
				if err := s.Release(ctx); err != nil {
					t.Errorf("contender %d: Release: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if m := most.Load(); m > limit {
		t.Errorf("%d holders at once, limit %d", m, limit)
	}
	for i := range contenders {
		if n := entries[i].Load(); n != rounds {
			t.Errorf("contender %d got in %d times, want %d", i, n, rounds)
		}
	}
	if n := sessionCount(t, a.Client); n != 0 {
		t.Errorf("%d sessions left after every Release", n)
	}
}

// TestSemaphoreTryAcquire: TryAcquire takes a free slot, refuses a full
// semaphore at once without leaving its session behind, and Release frees
// the slot for the next.
func TestSemaphoreTryAcquire(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	ctx := t.Context()
	x, y := newSemaphore(t, a, "sem/try", 1), newSemaphore(t, a, "sem/try", 1)

	if ok, err := x.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("x TryAcquire = %v, %v; want true", ok, err)
	}
	if ok, err := y.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("y TryAcquire while full = %v, %v; want false", ok, err)
	}
	if ok, err := x.TryAcquire(ctx); ok || !errors.Is(err, lock.ErrHeld) {
		t.Fatalf("x TryAcquire while held = %v, %v; want ErrHeld", ok, err)
	}
	if n := sessionCount(t, a.Client); n != 1 {
		t.Fatalf("%d sessions, want x's only", n)
	}
	xs := x.Session()
	if err := x.Release(ctx); err != nil {
		t.Fatalf("x Release: %v", err)
	}
	if err := x.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("second Release = %v, want ErrNotHeld", err)
	}
	// Release cleaned up: no contender key, not in the holder set.
	if p, _, err := a.Client.KV().Get(path.Join("sem/try", xs), nil); p != nil || err != nil {
		t.Fatalf("contender key after Release = %+v, %v; want gone", p, err)
	}
	if ok, err := y.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("y TryAcquire after Release = %v, %v; want true", ok, err)
	}
}

// TestSemaphoreLost: a holder whose session is destroyed sees Lost, its
// Release reports ErrLost, and its slot goes to a waiter.
func TestSemaphoreLost(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	ctx := t.Context()
	holder, waiter := newSemaphore(t, a, "sem/lost", 1), newSemaphore(t, a, "sem/lost", 1)
	if err := holder.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	lost := holder.Lost()
	if locktest.IsClosed(lost) {
		t.Fatal("Lost closed right after Acquire")
	}
	res := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, waitTimeout)
		defer cancel()
		res <- waiter.Acquire(wctx)
	}()

	if _, err := a.Client.Session().Destroy(holder.Session(), nil); err != nil {
		t.Fatal(err)
	}
	locktest.WaitClosed(t, lost, "holder's Lost")
	if err := <-res; err != nil {
		t.Fatalf("waiter Acquire after the holder's loss: %v", err)
	}
	if err := holder.Release(ctx); !errors.Is(err, lock.ErrLost) {
		t.Fatalf("holder Release = %v, want ErrLost", err)
	}
	if locktest.IsClosed(waiter.Lost()) {
		t.Fatal("the waiter's Lost closed")
	}
	if err := waiter.Release(ctx); err != nil {
		t.Fatalf("waiter Release: %v", err)
	}
}

// TestSemaphoreAcquireHonoursContext: Acquire on a full semaphore returns
// the context's error and leaves no session behind.
func TestSemaphoreAcquireHonoursContext(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	ctx := t.Context()
	holder, waiter := newSemaphore(t, a, "sem/ctx", 1), newSemaphore(t, a, "sem/ctx", 1)
	if err := holder.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := waiter.Acquire(wctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire = %v, want DeadlineExceeded", err)
	}
	if n := sessionCount(t, a.Client); n != 1 {
		t.Fatalf("%d sessions, want the holder's only", n)
	}
}

// TestSemaphoreConsulInterop: consul/api's own Semaphore on the same prefix
// and limit sees our holder, and ours sees its.
func TestSemaphoreConsulInterop(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	ctx := t.Context()
	const prefix = "sem/interop"
	ours := newSemaphore(t, a, prefix, 1)
	theirs, err := a.Client.SemaphoreOpts(&consul.SemaphoreOptions{
		Prefix: prefix, Limit: 1, SemaphoreTryOnce: true, SemaphoreWaitTime: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}

	if err := ours.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if ch, err := theirs.Acquire(nil); ch != nil || err != nil {
		t.Fatalf("consul Semaphore Acquire while ours holds = %v, %v; want no slot", ch, err)
	}
	if err := ours.Release(ctx); err != nil {
		t.Fatal(err)
	}
	ch, err := theirs.Acquire(nil)
	if ch == nil || err != nil {
		t.Fatalf("consul Semaphore Acquire after Release = %v, %v; want a slot", ch, err)
	}
	if ok, err := ours.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("TryAcquire while consul's holds = %v, %v; want false", ok, err)
	}
	if err := theirs.Release(); err != nil {
		t.Fatal(err)
	}
}

// TestSemaphoreConflict: contenders that disagree on the limit are told so.
func TestSemaphoreConflict(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	ctx := t.Context()
	two, three := newSemaphore(t, a, "sem/conflict", 2), newSemaphore(t, a, "sem/conflict", 3)
	if err := two.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := three.TryAcquire(ctx); ok || !errors.Is(err, ErrConflict) {
		t.Fatalf("TryAcquire with another limit = %v, %v; want ErrConflict", ok, err)
	}
}

func TestNewSemaphoreValidates(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	cases := map[string]struct {
		prefix string
		limit  int
		opts   SemaphoreOptions
		field  string
	}{
		"empty prefix":  {prefix: "", limit: 1, field: "prefix"},
		"zero limit":    {prefix: "p", limit: 0, field: "limit"},
		"ttl too short": {prefix: "p", limit: 1, opts: SemaphoreOptions{SessionTTL: time.Second}, field: "SessionTTL"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := NewSemaphore(a.Client, tc.prefix, tc.limit, tc.opts)
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Field != tc.field {
				t.Fatalf("NewSemaphore = %v, want an OptionError for %s", err, tc.field)
			}
		})
	}
}
