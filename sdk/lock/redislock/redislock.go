// Package redislock implements lock.Locker on Redis with go-redis v9.
//
// A hold is one key whose value is a random id (128 bits from crypto/rand)
// known only to the holder, with a lease set by PX:
//
//   - TryLock is one SET key id NX PX lease (the seed's Add-with-expiry),
//     done in a Lua script that also INCRs the fence key, so the fencing
//     token is handed out atomically with the acquisition and token order is
//     acquisition order.
//   - Lock retries TryLock with capped, jittered exponential backoff until it
//     succeeds or its context ends (the seed's AcquireLock). Waiters poll:
//     there is no queue, so the lock is not fair.
//   - While held, a watchdog goroutine (the seed's 守护) extends the lease
//     every Lease/3 with a script that compares the value with the id first.
//   - Unlock deletes the key with a script that compares first too, so a
//     holder never frees or extends a lock that has passed to someone else.
//
// The watchdog stops when Unlock is called (Unlock waits for it, so no
// renewal is sent after Unlock returns), when a renewal finds the key no
// longer holds the id, or when renewals keep failing until the lease, counted
// from before the last successful acquire or renewal was sent, has run out.
// The last two close Lost. The context given to Lock only bounds the wait; it
// does not end the hold. A process that dies stops renewing with it, and the
// key frees itself after at most Lease.
//
// Fencing tokens come from a counter that never expires (Options.FenceKey).
// They are strictly increasing as long as Redis keeps its data: a restart
// without persistence, or a failover to a replica that missed the latest
// writes (Redis replicates asynchronously), can lose both the lock and the
// counter. This is a single-instance lock, not Redlock; pass the token to the
// guarded resource when a stale holder must be refused.
package redislock

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/musterhq/muster/sdk/internal/backoff"
	"github.com/musterhq/muster/sdk/lock"
)

// Lock is a lock.Locker on one Redis key. Create it with New. Its methods are
// safe for concurrent use, but it is one holder: see lock.Locker.
type Lock struct {
	client redis.UniversalClient // immutable; never nil
	key    string                // immutable
	opts   Options               // immutable; defaults applied

	mu sync.Mutex
	h  *hold // the current hold, nil when none; guarded by mu
}

var _ lock.Locker = (*Lock)(nil)

// hold is one acquisition, from Lock or TryLock to Unlock.
type hold struct {
	id    string // random value stored under the key; immutable
	token uint64 // fencing token; immutable

	// lost is closed by the watchdog when the lease is lost, or by Unlock.
	lost chan struct{}
	// reason says why the lease was lost; written by the watchdog before it
	// closes lost and done, read by Unlock after done.
	reason error

	stop context.CancelFunc // stops the watchdog; called by Unlock
	done chan struct{}      // closed when the watchdog has returned
}

// New returns a Lock on key using client, which it does not close. Zero
// fields of opts take their defaults (DefaultOptions). It returns an
// *OptionError for a nil client, an empty key or an invalid option. On Redis
// Cluster, key and the fence key must share a hash slot (see
// Options.FenceKey).
func New(client redis.UniversalClient, key string, opts Options) (*Lock, error) {
	if client == nil {
		return nil, &OptionError{Field: "client", Value: client, Err: errors.New("must not be nil")}
	}
	if key == "" {
		return nil, &OptionError{Field: "key", Value: key, Err: errors.New("must not be empty")}
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults(key)
	if opts.FenceKey == key {
		return nil, &OptionError{Field: "FenceKey", Value: opts.FenceKey, Err: errors.New("must differ from the lock key")}
	}
	return &Lock{client: client, key: key, opts: opts}, nil
}

// Lock blocks until the lock is acquired or ctx ends, retrying with backoff
// between Options.RetryMin and Options.RetryMax. A Redis error ends the wait
// and is returned, wrapped. If ctx ends while an attempt is in flight, that
// attempt may have taken the key unseen: nobody renews it and it frees itself
// after Lease. See lock.Locker.
func (l *Lock) Lock(ctx context.Context) error {
	if l.held() {
		return fmt.Errorf("redislock: lock %q: %w", l.key, lock.ErrHeld)
	}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("redislock: lock %q: %w", l.key, err)
		}
		ok, err := l.attempt(ctx)
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err() // the client may report the deadline as an I/O timeout
			}
			return fmt.Errorf("redislock: lock %q: %w", l.key, err)
		}
		if ok {
			return nil
		}
		t := time.NewTimer(backoff.Jittered(attempt, l.opts.RetryMin, l.opts.RetryMax))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("redislock: lock %q: %w", l.key, ctx.Err())
		case <-t.C:
		}
	}
}

// TryLock makes one attempt, a single script round trip, and returns at once.
// See lock.Locker.
func (l *Lock) TryLock(ctx context.Context) (bool, error) {
	if l.held() {
		return false, fmt.Errorf("redislock: trylock %q: %w", l.key, lock.ErrHeld)
	}
	ok, err := l.attempt(ctx)
	if err != nil {
		return false, fmt.Errorf("redislock: trylock %q: %w", l.key, err)
	}
	return ok, nil
}

// attempt runs the acquire script once and, if it took the key, starts the
// hold.
func (l *Lock) attempt(ctx context.Context) (bool, error) {
	id := rand.Text()
	sent := time.Now() // the lease runs from no earlier than this
	token, err := acquireScript.Run(ctx, l.client, []string{l.key, l.opts.FenceKey}, id, l.opts.Lease.Milliseconds()).Int64()
	if err != nil {
		return false, err
	}
	if token <= 0 {
		return false, nil
	}
	return true, l.begin(ctx, id, uint64(token), sent)
}

// begin records a new hold and starts its watchdog. The watchdog's context
// keeps ctx's values but not its cancellation: the hold outlives Lock's ctx.
func (l *Lock) begin(ctx context.Context, id string, token uint64, sent time.Time) error {
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	h := &hold{id: id, token: token, lost: make(chan struct{}), stop: stop, done: make(chan struct{})}
	l.mu.Lock()
	if l.h != nil {
		// Two Lock calls raced on this Locker and the other won first.
		l.mu.Unlock()
		stop()
		_ = releaseScript.Run(context.WithoutCancel(ctx), l.client, []string{l.key}, id).Err()
		return lock.ErrHeld
	}
	l.h = h
	l.mu.Unlock()
	go l.watch(wctx, h, sent)
	return nil
}

// Unlock stops the watchdog, waits for it to return, and then deletes the
// key if it still holds this hold's id. See lock.Locker for the errors; an
// error wrapping lock.ErrLost says why the lease was lost.
func (l *Lock) Unlock(ctx context.Context) error {
	l.mu.Lock()
	h := l.h
	l.h = nil
	l.mu.Unlock()
	if h == nil {
		return fmt.Errorf("redislock: unlock %q: %w", l.key, lock.ErrNotHeld)
	}
	h.stop()
	<-h.done // no renewal is in flight from here on
	defer func() {
		if h.reason == nil {
			close(h.lost)
		}
	}()

	n, err := releaseScript.Run(ctx, l.client, []string{l.key}, h.id).Int64()
	switch {
	case h.reason != nil:
		return fmt.Errorf("redislock: unlock %q: %w: %w", l.key, lock.ErrLost, h.reason)
	case err != nil:
		return fmt.Errorf("redislock: unlock %q: release not confirmed, the key frees itself within %v: %w", l.key, l.opts.Lease, err)
	case n == 0:
		return fmt.Errorf("redislock: unlock %q: %w: %w", l.key, lock.ErrLost, errNotOurs)
	}
	return nil
}

// errNotOurs is the loss reason when the key no longer holds the hold's id.
var errNotOurs = errors.New("the key no longer holds this hold's id: it expired or was overwritten")

// closedChan is what Lost returns when there is no hold.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Lost returns the current hold's channel, closed when its lease is lost or
// at Unlock; an already closed channel when there is no hold. See
// lock.Locker.
func (l *Lock) Lost() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h == nil {
		return closedChan
	}
	return l.h.lost
}

// Token returns the current hold's fencing token, 0 when there is no hold.
func (l *Lock) Token() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h == nil {
		return 0
	}
	return l.h.token
}

// Key returns the lock key.
func (l *Lock) Key() string { return l.key }

func (l *Lock) held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h != nil
}
