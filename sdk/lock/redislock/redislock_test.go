package redislock

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/musterhq/muster/sdk/lock"
	"github.com/musterhq/muster/sdk/lock/locktest"
)

// testLease is short so that renewals and expiries happen within a test.
const testLease = 300 * time.Millisecond

// waitTimeout bounds every wait for something that should happen promptly.
const waitTimeout = 10 * time.Second

func TestConformance(t *testing.T) {
	t.Parallel()
	addr := startRedis(t)
	locktest.Run(t, func(t *testing.T, key string) lock.Locker {
		l, _ := newLock(t, addr, key, Options{Lease: testLease})
		return l
	})
}

// TestForeignValue: when the key stops holding our id mid-hold, the watchdog
// neither extends nor frees what is there now, Lost closes, Unlock says the
// lease was lost, and the other value is intact.
func TestForeignValue(t *testing.T) {
	t.Parallel()
	addr := startRedis(t)
	raw := newClient(t, addr)

	type testcase struct {
		// interfere changes the key behind the holder's back.
		interfere func(t *testing.T, key string)
		// check runs after the holder's Unlock.
		check func(t *testing.T, key string)
	}
	run := func(t *testing.T, tc testcase) {
		ctx := t.Context()
		key := "foreign/" + t.Name()
		l, _ := newLock(t, addr, key, Options{Lease: testLease})
		if err := l.Lock(ctx); err != nil {
			t.Fatalf("Lock: %v", err)
		}
		lost := l.Lost()
		tc.interfere(t, key)
		locktest.WaitClosed(t, lost, "Lost after the key was changed")
		err := l.Unlock(ctx)
		if !errors.Is(err, lock.ErrLost) || !strings.Contains(err.Error(), "no longer holds") {
			t.Fatalf("Unlock = %v, want ErrLost saying the key no longer holds our id", err)
		}
		tc.check(t, key)
	}

	cases := map[string]testcase{
		"overwritten": {
			interfere: func(t *testing.T, key string) {
				if err := raw.Set(t.Context(), key, "other", 0).Err(); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, key string) {
				if v, err := raw.Get(t.Context(), key).Result(); v != "other" || err != nil {
					t.Errorf("GET = %q, %v; want the other value intact", v, err)
				}
				// SET without expiry: a PEXPIRE by our renewal would show here.
				if ttl, err := raw.PTTL(t.Context(), key).Result(); ttl != -1 || err != nil {
					t.Errorf("PTTL = %v, %v; want -1 (never extended by us)", ttl, err)
				}
			},
		},
		"deleted and taken by another holder": {
			interfere: func(t *testing.T, key string) {
				if err := raw.Del(t.Context(), key).Err(); err != nil {
					t.Fatal(err)
				}
				other, _ := newLock(t, addr, key, Options{Lease: testLease})
				if ok, err := other.TryLock(t.Context()); !ok || err != nil {
					t.Fatalf("other TryLock = %v, %v; want true", ok, err)
				}
			},
			check: func(t *testing.T, key string) {
				probe, _ := newLock(t, addr, key, Options{Lease: testLease})
				if ok, err := probe.TryLock(t.Context()); ok || err != nil {
					t.Errorf("TryLock after the old holder's Unlock = %v, %v; want false: the other holder keeps it", ok, err)
				}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

// TestWithLockLost: when the lease is lost mid-work, fn's context is
// cancelled with cause ErrLost and WithLock reports the loss.
func TestWithLockLost(t *testing.T) {
	t.Parallel()
	addr := startRedis(t)
	raw := newClient(t, addr)
	const key = "with-lock-lost"
	l, _ := newLock(t, addr, key, Options{Lease: testLease})

	err := lock.WithLock(t.Context(), l, func(ctx context.Context) error {
		if err := raw.Set(ctx, key, "taken over", 0).Err(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(waitTimeout):
			t.Errorf("fn's context not cancelled within %v of the takeover", waitTimeout)
		}
		if cause := context.Cause(ctx); !errors.Is(cause, lock.ErrLost) {
			t.Errorf("fn's context cause = %v, want ErrLost", cause)
		}
		return nil
	})
	if !errors.Is(err, lock.ErrLost) {
		t.Errorf("WithLock = %v, want ErrLost", err)
	}
	if v, err := raw.Get(t.Context(), key).Result(); v != "taken over" || err != nil {
		t.Errorf("GET = %q, %v; want the new owner's value intact", v, err)
	}
}

// TestDeadHolder: a holder whose process dies (its client closes, so it can
// neither renew nor release) keeps others out until its lease expires, then
// the next Lock gets in with a larger token.
func TestDeadHolder(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	addr := startRedis(t)
	const key = "dead-holder"
	dead, deadClient := newLock(t, addr, key, Options{Lease: testLease})
	next, _ := newLock(t, addr, key, Options{Lease: testLease})

	if err := dead.Lock(ctx); err != nil {
		t.Fatalf("Lock: %v", err)
	}
	deadToken := dead.Token()
	deadLost := dead.Lost()
	if err := deadClient.Close(); err != nil {
		t.Fatal(err)
	}
	if ok, err := next.TryLock(ctx); ok || err != nil {
		t.Fatalf("TryLock while the dead holder's lease lasts = %v, %v; want false", ok, err)
	}

	wctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	if err := next.Lock(wctx); err != nil {
		t.Fatalf("Lock after the dead holder's lease: %v", err)
	}
	if got := next.Token(); got <= deadToken {
		t.Errorf("next Token = %d, want > %d", got, deadToken)
	}

	// The dead holder's own watchdog gives up when its lease runs out.
	locktest.WaitClosed(t, deadLost, "the dead holder's Lost")
	if err := dead.Unlock(ctx); !errors.Is(err, lock.ErrLost) {
		t.Errorf("dead holder's Unlock = %v, want ErrLost", err)
	}
	if err := next.Unlock(ctx); err != nil {
		t.Errorf("next Unlock: %v", err)
	}
}

// TestRenewal: the watchdog keeps a hold alive across several leases and
// sends nothing after Unlock.
func TestRenewal(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	addr := startRedis(t)
	const lease = 90 * time.Millisecond
	l, c := newLock(t, addr, "renewal", Options{Lease: lease})
	renewals := countRenewals(c)

	if err := l.Lock(ctx); err != nil {
		t.Fatalf("Lock: %v", err)
	}
	select {
	case <-l.Lost():
		t.Fatalf("Lost closed while renewing")
	case <-time.After(5 * lease):
	}
	if n := renewals.Load(); n == 0 {
		t.Errorf("no renewals in 5 leases")
	}
	if ttl, err := c.PTTL(ctx, "renewal").Result(); ttl <= 0 || err != nil {
		t.Errorf("PTTL after 5 leases = %v, %v; want the key alive", ttl, err)
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	after := renewals.Load()
	<-time.After(lease) // three renewal intervals in which none may be sent
	if n := renewals.Load(); n != after {
		t.Errorf("%d renewals sent after Unlock", n-after)
	}
	if n, err := c.Exists(ctx, "renewal").Result(); n != 0 || err != nil {
		t.Errorf("EXISTS after Unlock = %d, %v; want 0", n, err)
	}
}

// TestUnlockUnconfirmed: when the release cannot reach Redis, Unlock says so
// without claiming a loss, ends the hold locally, and the key stays until its
// lease expires.
func TestUnlockUnconfirmed(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	addr := startRedis(t)
	raw := newClient(t, addr)
	l, c := newLock(t, addr, "unconfirmed", Options{Lease: 10 * time.Second})
	if err := l.Lock(ctx); err != nil {
		t.Fatalf("Lock: %v", err)
	}
	lost := l.Lost()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	err := l.Unlock(ctx)
	if err == nil || errors.Is(err, lock.ErrLost) || !strings.Contains(err.Error(), "not confirmed") {
		t.Errorf("Unlock = %v, want a not-confirmed error that is not ErrLost", err)
	}
	if l.Token() != 0 || !locktest.IsClosed(lost) {
		t.Errorf("hold not ended: Token %d, Lost closed %v", l.Token(), locktest.IsClosed(lost))
	}
	if ttl, err := raw.PTTL(ctx, "unconfirmed").Result(); ttl <= 0 || err != nil {
		t.Errorf("PTTL = %v, %v; want the key still there with its lease", ttl, err)
	}
}

// TestRedisErrors: Lock and TryLock return Redis errors instead of waiting.
func TestRedisErrors(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // nothing listens
	_ = c.Close()
	l, err := New(c, "k", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	if err := l.Lock(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock = %v, want the client's error", err)
	}
	if ok, err := l.TryLock(ctx); ok || err == nil {
		t.Errorf("TryLock = %v, %v; want false and the client's error", ok, err)
	}
}

// TestFencingTokens: tokens come from the fence counter, which outlives the
// lock key and its expiries.
func TestFencingTokens(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	addr := startRedis(t)
	raw := newClient(t, addr)
	const key, fence = "{orders}:lock", "{orders}:tokens"
	if err := raw.Set(ctx, fence, 41, 0).Err(); err != nil {
		t.Fatal(err)
	}
	a, _ := newLock(t, addr, key, Options{Lease: testLease, FenceKey: fence})
	b, _ := newLock(t, addr, key, Options{Lease: testLease, FenceKey: fence})

	want := uint64(42)
	for i, l := range []*Lock{a, b, a, b} {
		if err := l.Lock(ctx); err != nil {
			t.Fatalf("hold %d: Lock: %v", i, err)
		}
		if got := l.Token(); got != want {
			t.Errorf("hold %d: Token = %d, want %d", i, got, want)
		}
		if i%2 == 0 {
			// Let this hold's key vanish as an expiry would; the counter stays.
			if err := raw.Del(ctx, key).Err(); err != nil {
				t.Fatal(err)
			}
			_ = l.Unlock(ctx) // ErrLost: expected
		} else if err := l.Unlock(ctx); err != nil {
			t.Fatalf("hold %d: Unlock: %v", i, err)
		}
		want++
	}
	if ttl, err := raw.PTTL(ctx, fence).Result(); ttl != -1 || err != nil {
		t.Errorf("fence PTTL = %v, %v; want -1 (no expiry)", ttl, err)
	}
}

// TestBadFenceKey: a fence key that is not a counter fails the acquire
// before the lock key is set, so no unseen hold is left behind.
func TestBadFenceKey(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	addr := startRedis(t)
	raw := newClient(t, addr)
	const key = "bad-fence"
	if err := raw.Set(ctx, key+":fence", "not a number", 0).Err(); err != nil {
		t.Fatal(err)
	}
	l, _ := newLock(t, addr, key, Options{Lease: testLease})
	if ok, err := l.TryLock(ctx); ok || err == nil {
		t.Errorf("TryLock = %v, %v; want false and the script's error", ok, err)
	}
	if err := l.Lock(ctx); err == nil {
		t.Errorf("Lock = nil, want the script's error")
	}
	if n, err := raw.Exists(ctx, key).Result(); n != 0 || err != nil {
		t.Errorf("EXISTS %s = %d, %v; want 0", key, n, err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { _ = c.Close() })

	cases := map[string]struct {
		client    redis.UniversalClient
		key       string
		opts      Options
		wantField string // "" for success
	}{
		"defaults":          {client: c, key: "k"},
		"nil client":        {client: nil, key: "k", wantField: "client"},
		"empty key":         {client: c, key: "", wantField: "key"},
		"short lease":       {client: c, key: "k", opts: Options{Lease: time.Millisecond}, wantField: "Lease"},
		"negative lease":    {client: c, key: "k", opts: Options{Lease: -time.Second}, wantField: "Lease"},
		"negative RetryMin": {client: c, key: "k", opts: Options{RetryMin: -1}, wantField: "RetryMin"},
		"RetryMax < Min":    {client: c, key: "k", opts: Options{RetryMin: time.Second, RetryMax: time.Millisecond}, wantField: "RetryMax"},
		"RetryMin over default max": {
			client: c, key: "k", opts: Options{RetryMin: time.Second},
		},
		"fence is key": {client: c, key: "k", opts: Options{FenceKey: "k"}, wantField: "FenceKey"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			l, err := New(tc.client, tc.key, tc.opts)
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if l.opts.Lease <= 0 || l.opts.RetryMin <= 0 || l.opts.RetryMax < l.opts.RetryMin || l.opts.FenceKey != tc.key+":fence" {
					t.Errorf("defaults not applied: %+v", l.opts)
				}
				return
			}
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Field != tc.wantField {
				t.Fatalf("New = %v, want an *OptionError for %s", err, tc.wantField)
			}
		})
	}
}

// countRenewals counts the renewal scripts c sends.
func countRenewals(c *redis.Client) *atomic.Int64 {
	h := &renewalCounter{}
	c.AddHook(h)
	return &h.n
}

type renewalCounter struct{ n atomic.Int64 }

func (h *renewalCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *renewalCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if args := cmd.Args(); len(args) > 1 && (args[1] == renewScript.Hash() || args[1] == renewSource) {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *renewalCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
