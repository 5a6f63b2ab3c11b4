// Package musterlock implements lock.Locker on muster, or on Consul, with
// sessions and the KV store, and a counting Semaphore on the same parts.
//
// A hold is one session (behavior "release", Options.SessionTTL, lock-delay
// Options.LockDelay, 0 by default) that holds the lock key:
//
//   - Lock creates the session, then acquires the key. On muster it waits in
//     the key's FIFO queue on the server (api.Client.AcquireWait): the
//     release that frees the key grants it to the longest waiter in the same
//     Raft entry, so the lock is fair and waiters do not poll. On Consul it
//     runs Consul's own algorithm: ?acquire, and while that fails, blocking
//     reads of the key until it is free, then ?acquire again. Lock's
//     context ending takes the session out of the queue (the server does so
//     when the request is cancelled) and destroys the session.
//   - TryLock creates the session and makes one ?acquire.
//   - While the hold lasts, a renewer (the seed's 守护, watchdog) renews the
//     session every Options.RenewInterval, and a monitor watches the key
//     with blocking, consistent reads. The hold is lost, and Lost closed,
//     when a renewal answers that the session is gone, when no renewal has
//     succeeded for a whole TTL, when the key no longer names the session
//     (someone deleted it, or released or took it), or when the watch fails
//     Options.MonitorRetries+1 times in a row.
//   - Unlock stops the renewer and the monitor and waits for them, then
//     releases the key with ?release=<session> (which frees it only if the
//     session still holds it) and destroys the session. No renewal is sent
//     after Unlock returns.
//
// By default each hold has its own session, created by Lock or TryLock and
// destroyed by Unlock: a Locker dropped between holds leaves nothing
// behind, since Locker has no Close. A process that locks often should
// share a Session instead (Options.Session), as etcd's Mutexes share a
// concurrency.Session: it is renewed until its Close, and holds on it only
// acquire and release, two Raft writes fewer per hold.
//
// Fencing tokens: on muster, the token is the one the server returns with
// the grant (X-Muster-Fencing-Token, the Raft index of the granting entry).
// With Consul's algorithm it is the key's ModifyIndex read back, with a
// consistent read, right after the acquire: Consul's indexes are strictly
// increasing, and the key cannot be acquired by anyone else between our
// acquire and our release, so tokens increase across holds in acquisition
// order on both servers.
//
// Recognising muster (ModeAuto): muster is the only server that puts a
// fencing token on a successful acquire (the X-Muster-Fencing-Token header)
// and on a held key (the FencingToken field of GET /v1/kv/<key>). A Lock in
// ModeAuto starts with Consul's algorithm, whose first steps (a plain
// acquire, then a read of the key while it is held) are the ones that show
// either; once one has, the Lock remembers that the server is muster and
// waits in the fair queue from then on. No extra round trip is spent on
// detection, and nothing muster-only is ever sent to Consul. A Lock that
// has only seen free keys and failed acquires keeps using Consul's
// algorithm, which is correct on muster too, only not fair.
package musterlock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/sdk/lock"
)

// Loss reasons, wrapped with lock.ErrLost by Unlock.
var (
	errNotOurs    = errors.New("the key no longer names this hold's session: it was released or taken by someone else")
	errKeyDeleted = errors.New("the key was deleted")
)

// Lock is a lock.Locker on one muster or Consul KV key. Create it with New.
// Its methods are safe for concurrent use, but it is one holder: see
// lock.Locker.
type Lock struct {
	c    *api.Client // immutable; never nil
	key  string      // immutable
	opts Options     // immutable; defaults applied

	// muster is set once a ModeAuto Lock has seen that the server is muster.
	muster atomic.Bool

	mu sync.Mutex
	h  *hold // the current hold, nil when none; guarded by mu
}

var _ lock.Locker = (*Lock)(nil)

// hold is one acquisition, from Lock or TryLock to Unlock.
type hold struct {
	sess   *session // immutable
	shared bool     // sess belongs to a Session, not to this hold; immutable
	token  uint64   // fencing token; immutable

	// lost is closed, once, by lose: when the lease is lost or at Unlock.
	lost     chan struct{}
	loseOnce sync.Once
	// reason says why the lease was lost; nil if it was not. Written by
	// lose before lost closes; read by Unlock after the watchers returned.
	reason error

	stop     context.CancelFunc // ends the watchers; called by Unlock
	watchers sync.WaitGroup     // the monitor and the renewal watch
}

// New returns a Lock on key using c. Zero fields of opts take their
// defaults (DefaultOptions). It returns an *OptionError for a nil client,
// an empty key or an invalid option. New makes no request.
func New(c *api.Client, key string, opts Options) (*Lock, error) {
	if c == nil {
		return nil, &OptionError{Field: "client", Value: c, Err: errors.New("must not be nil")}
	}
	if key == "" {
		return nil, &OptionError{Field: "key", Value: key, Err: errors.New("must not be empty")}
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Lock{c: c, key: key, opts: opts.withDefaults()}, nil
}

// Lock blocks until the lock is acquired or ctx ends. It creates the hold's
// session first; if ctx ends or an error occurs before the lock is
// acquired, it destroys the session again, which also frees the key if the
// server granted it in an answer that never arrived. A server error, or the
// session being lost while waiting, ends the wait and is returned, wrapped.
// In ModeMuster against a server that is not muster, the error wraps
// api.ErrNotMuster. See lock.Locker.
func (l *Lock) Lock(ctx context.Context) error {
	if l.held() {
		return fmt.Errorf("musterlock: lock %q: %w", l.key, lock.ErrHeld)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("musterlock: lock %q: %w", l.key, err)
	}
	s, err := l.holdSession(ctx)
	if err != nil {
		return fmt.Errorf("musterlock: lock %q: %w", l.key, ctxErr(ctx, err))
	}
	token, err := l.acquire(ctx, s)
	if err != nil {
		l.giveUp(ctx, s)
		return fmt.Errorf("musterlock: lock %q: %w", l.key, ctxErr(ctx, err))
	}
	if err := l.begin(ctx, s, token); err != nil {
		return fmt.Errorf("musterlock: lock %q: %w", l.key, err)
	}
	return nil
}

// TryLock creates the hold's session and makes one ?acquire; if that fails
// it destroys the session and returns false. See lock.Locker.
func (l *Lock) TryLock(ctx context.Context) (bool, error) {
	if l.held() {
		return false, fmt.Errorf("musterlock: trylock %q: %w", l.key, lock.ErrHeld)
	}
	s, err := l.holdSession(ctx)
	if err != nil {
		return false, fmt.Errorf("musterlock: trylock %q: %w", l.key, err)
	}
	ok, token, err := l.acquireOnce(ctx, s)
	if err != nil || !ok {
		l.giveUp(ctx, s)
		if err != nil {
			return false, fmt.Errorf("musterlock: trylock %q: %w", l.key, err)
		}
		return false, nil
	}
	if err := l.begin(ctx, s, token); err != nil {
		return false, fmt.Errorf("musterlock: trylock %q: %w", l.key, err)
	}
	return true, nil
}

// holdSession returns the session a new hold uses: the shared Session's,
// or a new one, renewed from now on.
func (l *Lock) holdSession(ctx context.Context) (*session, error) {
	if l.opts.Session != nil {
		if gone, err := l.opts.Session.s.renew.ended(); gone {
			return nil, fmt.Errorf("session lost: %w", err)
		}
		select {
		case <-l.opts.Session.Done():
			return nil, errSessionClosed
		default:
		}
		return l.opts.Session.s, nil
	}
	return newSession(ctx, l.c, sessionSpec{
		name:      l.opts.SessionName,
		ttl:       l.opts.SessionTTL,
		lockDelay: l.opts.LockDelay,
		behavior:  consul.SessionBehaviorRelease,
	}, l.opts.RenewInterval)
}

// giveUp cleans up after an acquire that failed or was cancelled: a hold's
// own session is destroyed (s.abandon), a shared one releases the key, in
// case the server granted it in an answer that never arrived. Either frees
// a grant the caller never saw; a failure is dropped (the key frees itself
// when the session ends).
func (l *Lock) giveUp(ctx context.Context, s *session) {
	if l.opts.Session == nil {
		s.abandon(ctx, l.c)
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_, _, _ = l.c.KV().Release(&consul.KVPair{Key: l.key, Session: s.id}, (&consul.WriteOptions{}).WithContext(rctx))
}

// begin records a new hold for s, which holds the key, and starts its
// watchers. Their context keeps ctx's values but not its cancellation: the
// hold outlives Lock's ctx.
func (l *Lock) begin(ctx context.Context, s *session, token uint64) error {
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	shared := l.opts.Session != nil
	h := &hold{sess: s, shared: shared, token: token, lost: make(chan struct{}), stop: stop}
	h.watchers.Go(func() { l.monitor(wctx, h) })
	h.watchers.Go(func() {
		select {
		case <-s.renew.done:
			switch {
			case s.renew.err != nil:
				h.lose(s.renew.err)
			case shared: // Session.Close destroyed the session
				h.lose(errSessionClosed)
			}
		case <-wctx.Done():
		}
	})
	l.mu.Lock()
	if l.h != nil {
		// Two Lock calls raced on this Locker and the other won first.
		l.mu.Unlock()
		stop()
		h.watchers.Wait()
		l.giveUp(ctx, s) // frees the key we took
		return lock.ErrHeld
	}
	l.h = h
	l.mu.Unlock()
	return nil
}

// monitor watches the key with blocking, consistent reads from begin until
// ctx is cancelled by Unlock, and loses the hold when the key is gone or
// names another session (or none), or when reads fail more than
// MonitorRetries times in a row.
func (l *Lock) monitor(ctx context.Context, h *hold) {
	// The token is the key's ModifyIndex at the grant, so the first read
	// already blocks: a hold costs no extra round trip to start watching.
	index := h.token
	fails := 0
	for {
		k, next, err := readKey(ctx, l.c, l.key, index, l.opts.WaitTime, true)
		switch {
		case ctx.Err() != nil:
			return // Unlock stopped us
		case err != nil:
			if fails++; fails > max(0, l.opts.MonitorRetries) {
				h.lose(fmt.Errorf("watching the key failed %d times in a row: %w", fails, err))
				return
			}
			index = 0
			if !sleepCtx(ctx, l.opts.MonitorRetryTime) {
				return
			}
			continue
		case k == nil:
			h.lose(errKeyDeleted)
			return
		case k.Session != h.sess.id:
			h.lose(errNotOurs)
			return
		}
		fails, index = 0, next
	}
}

// lose records why h's lease was lost and closes h.lost; reason nil (from
// Unlock) only closes it. The first call wins.
func (h *hold) lose(reason error) {
	h.loseOnce.Do(func() {
		h.reason = reason
		close(h.lost)
	})
}

// Unlock stops the hold's renewer and monitor and waits for them, releases
// the key with ?release=<session>, then destroys the session. See
// lock.Locker for the errors; an error wrapping lock.ErrLost says why the
// lease was lost. If the release fails but the destroy succeeds, the
// destroy has freed the key and Unlock returns nil; if the release succeeds
// and the destroy fails, the session (which holds nothing) expires after
// its TTL and Unlock returns nil too.
func (l *Lock) Unlock(ctx context.Context) error {
	l.mu.Lock()
	h := l.h
	l.h = nil
	l.mu.Unlock()
	if h == nil {
		return fmt.Errorf("musterlock: unlock %q: %w", l.key, lock.ErrNotHeld)
	}
	h.stop()
	if !h.shared {
		h.sess.renew.stop()
	}
	h.watchers.Wait() // no renewal or watch is in flight from here on
	if gone, err := h.sess.renew.ended(); gone {
		h.lose(err) // the renewal watch may have seen Unlock's stop first
	}
	defer h.lose(nil)

	if h.reason != nil {
		if !h.shared {
			_ = destroySession(ctx, l.c, h.sess.id) // nothing to release; do not leave it to its TTL
		}
		return fmt.Errorf("musterlock: unlock %q: %w: %w", l.key, lock.ErrLost, h.reason)
	}
	pair := &consul.KVPair{Key: l.key, Value: l.opts.Value, Session: h.sess.id}
	released, _, relErr := l.c.KV().Release(pair, (&consul.WriteOptions{}).WithContext(ctx))
	if h.shared {
		switch {
		case relErr != nil:
			return fmt.Errorf("musterlock: unlock %q: release not confirmed; the key stays held until it is released or the shared session ends: %w", l.key, relErr)
		case !released:
			return fmt.Errorf("musterlock: unlock %q: %w: %w", l.key, lock.ErrLost, errNotOurs)
		}
		return nil
	}
	dErr := destroySession(ctx, l.c, h.sess.id)
	switch {
	case relErr == nil && !released:
		return fmt.Errorf("musterlock: unlock %q: %w: %w", l.key, lock.ErrLost, errNotOurs)
	case relErr != nil && dErr != nil:
		return fmt.Errorf("musterlock: unlock %q: release not confirmed, the key frees itself when the session expires (SessionTTL %v, up to twice that on Consul): %w",
			l.key, l.opts.SessionTTL, errors.Join(relErr, dErr))
	}
	return nil
}

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

// Session returns the current hold's session ID, "" when there is no hold.
// It is for diagnostics and for resources that check the holder themselves
// (a transaction can verify that the key is still locked by the session).
func (l *Lock) Session() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h == nil {
		return ""
	}
	return l.h.sess.id
}

// Key returns the lock key.
func (l *Lock) Key() string { return l.key }

func (l *Lock) held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h != nil
}

// ctxErr returns ctx's error if ctx has ended, else err: a request cut
// short by ctx reports a transport error, and the caller wants ctx's.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
