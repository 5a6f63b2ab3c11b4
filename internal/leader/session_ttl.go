// Package leader holds the loops only the Raft leader runs: session TTL
// expiry now; member reconciliation and reaping in later slices.
package leader

import (
	"log/slog"
	"sync"
	"time"
)

// SessionTimers expires sessions whose TTL ran out without a renewal. A
// session expires at TTL plus Grace, not at 2×TTL as in Consul: a client
// renewing every TTL/2 never sees it, and a dead one is detected promptly.
//
// Timers live only in the leader's memory. A new leader restarts every TTL
// session's timer at the full TTL (Consul's rule), so a leader change never
// expires a healthy session early.
type SessionTimers struct {
	Grace  time.Duration
	Expire func(id string) error // destroys the session through Raft
	Logger *slog.Logger

	// afterFunc starts a timer (time.AfterFunc); tests replace it to see
	// what was armed and to fire timers themselves.
	afterFunc func(id string, d time.Duration, f func()) stopper

	mu     sync.Mutex
	timers map[string]stopper // guarded by mu
	epoch  uint64             // guarded by mu; ClearAll bumps it, so retries of the old term stop
}

// stopper is a running timer.
type stopper interface{ Stop() bool }

// NewSessionTimers returns timers that call expire when a session's TTL plus
// grace passes without a Reset.
func NewSessionTimers(grace time.Duration, expire func(id string) error, logger *slog.Logger) *SessionTimers {
	return &SessionTimers{
		Grace: grace, Expire: expire, Logger: logger, timers: map[string]stopper{},
		afterFunc: func(_ string, d time.Duration, f func()) stopper { return time.AfterFunc(d, f) },
	}
}

// Reset (re)starts id's timer at ttl plus grace.
func (t *SessionTimers) Reset(id string, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if tm, ok := t.timers[id]; ok {
		tm.Stop()
	}
	t.arm(id, ttl+t.Grace)
}

// expiryRetry is how soon a failed expiry (a Raft write that did not go
// through) is tried again.
const expiryRetry = time.Second

// arm starts id's timer. t.mu must be held.
func (t *SessionTimers) arm(id string, d time.Duration) {
	var tm stopper
	tm = t.afterFunc(id, d, func() {
		t.mu.Lock()
		fired := tm
		t.mu.Unlock()
		t.expire(id, fired)
	})
	t.timers[id] = tm
}

// expire destroys id, unless the timer that fired was replaced (by a Reset
// racing with it) or cleared meanwhile. A failed destroy is retried until it
// succeeds or the timer is cleared (the node lost leadership).
func (t *SessionTimers) expire(id string, fired stopper) {
	t.mu.Lock()
	if t.timers[id] != fired {
		t.mu.Unlock()
		return
	}
	delete(t.timers, id)
	epoch := t.epoch
	t.mu.Unlock()
	if err := t.Expire(id); err != nil {
		t.Logger.Warn("leader: session TTL expiry failed, retrying", "session", id, "err", err)
		t.mu.Lock()
		if _, replaced := t.timers[id]; !replaced && t.epoch == epoch {
			t.arm(id, expiryRetry)
		}
		t.mu.Unlock()
		return
	}
	t.Logger.Debug("leader: session expired", "session", id)
}

// Clear stops id's timer, if any.
func (t *SessionTimers) Clear(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tm, ok := t.timers[id]; ok {
		tm.Stop()
		delete(t.timers, id)
	}
}

// ClearAll stops every timer: the node lost leadership.
func (t *SessionTimers) ClearAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.epoch++
	for id, tm := range t.timers {
		tm.Stop()
		delete(t.timers, id)
	}
}
