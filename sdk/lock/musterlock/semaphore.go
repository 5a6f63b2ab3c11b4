package musterlock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sync"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/sdk/lock"
)

// ErrConflict is returned by Acquire and TryAcquire when the semaphore's
// keys are in use by something else: the PREFIX/.lock key carries other
// flags than a semaphore's, or the holders there agreed on another limit.
var ErrConflict = errors.New("musterlock: the semaphore's keys are used differently by other contenders")

// errNotHolder is the loss reason when the holder set no longer lists the
// session (its contender key is gone, or someone rewrote the set).
var errNotHolder = errors.New("the semaphore's holder set no longer lists this session")

// Semaphore lets at most limit holders in at once, among all contenders that
// use the same prefix and limit. It is Consul's semaphore recipe, key for
// key and flag for flag, so it interoperates with consul/api's Semaphore and
// with `consul lock -n` (and `muster lock -n`):
//
//   - each contender has a session (behavior "delete") and holds the key
//     PREFIX/<session> with it, so that its key disappears with it;
//   - PREFIX/.lock holds {"Limit": n, "Holders": {session: true, ...}}, and
//     a contender gets in by adding itself with a check-and-set, after
//     dropping the holders whose contender key is gone. A full set is
//     waited on with blocking reads of the prefix.
//
// It is written here rather than wrapping consul/api's Semaphore because
// that one cannot be cancelled by a context (it looks at its stop channel
// only between blocking reads of up to 15s), and its monitor goroutine and
// session renewal outlive Release. Here Release stops the renewer and the
// monitor and waits for them, so nothing is sent for this holder after it
// returns, and it ends the session before returning.
//
// A Semaphore is one holder: its methods are safe for concurrent use, but
// the Acquire/Release pair belongs to one goroutine at a time; give each
// contender its own Semaphore. Each hold has its own session, as with Lock.
type Semaphore struct {
	c       *api.Client      // immutable; never nil
	prefix  string           // immutable; path.Clean'ed
	lockKey string           // PREFIX/.lock; immutable
	limit   int              // immutable; > 0
	opts    SemaphoreOptions // immutable; defaults applied

	mu sync.Mutex
	h  *semHold // the current hold, nil when none; guarded by mu
}

// semHold is one hold of a slot, from Acquire or TryAcquire to Release.
type semHold struct {
	sess *session // immutable

	lost     chan struct{} // closed once, by lose
	loseOnce sync.Once
	reason   error // why the slot was lost; see hold.reason

	stop     context.CancelFunc
	watchers sync.WaitGroup
}

func (h *semHold) lose(reason error) {
	h.loseOnce.Do(func() {
		h.reason = reason
		close(h.lost)
	})
}

// semaphoreState is the value of PREFIX/.lock, as consul/api writes it.
type semaphoreState struct {
	Limit   int
	Holders map[string]bool
}

// NewSemaphore returns a Semaphore of limit slots under prefix, using c.
// Every contender must use the same limit. Zero fields of opts take their
// defaults (DefaultSemaphoreOptions). It returns an *OptionError for a nil
// client, an empty prefix, a limit below 1 or an invalid option. It makes no
// request.
func NewSemaphore(c *api.Client, prefix string, limit int, opts SemaphoreOptions) (*Semaphore, error) {
	if c == nil {
		return nil, &OptionError{Field: "client", Value: c, Err: errors.New("must not be nil")}
	}
	if prefix == "" {
		return nil, &OptionError{Field: "prefix", Value: prefix, Err: errors.New("must not be empty")}
	}
	if limit < 1 {
		return nil, &OptionError{Field: "limit", Value: limit, Err: errors.New("must be at least 1")}
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	prefix = path.Clean(prefix)
	return &Semaphore{
		c:       c,
		prefix:  prefix,
		lockKey: path.Join(prefix, consul.DefaultSemaphoreKey),
		limit:   limit,
		opts:    opts.withDefaults(),
	}, nil
}

// Acquire blocks until this Semaphore holds a slot or ctx ends. ctx bounds
// only the wait; the hold lasts until Release. When ctx ends first, Acquire
// returns an error wrapping ctx.Err() and holds nothing: it destroys its
// session, which deletes its contender key, so a slot it may have taken
// unseen is freed when the others next look. It returns lock.ErrHeld if
// this Semaphore already holds a slot, ErrConflict (wrapped) if the keys
// are used differently, and server errors (wrapped) without retrying them.
func (s *Semaphore) Acquire(ctx context.Context) error {
	if _, err := s.acquire(ctx, true); err != nil {
		return fmt.Errorf("musterlock: semaphore %q: acquire: %w", s.prefix, err)
	}
	return nil
}

// TryAcquire looks once: it returns true if this Semaphore now holds a
// slot, false with a nil error if all slots are taken. A check-and-set lost
// to another contender is retried at once while slots look free. ctx
// bounds the round trips. It returns lock.ErrHeld if this Semaphore
// already holds a slot.
func (s *Semaphore) TryAcquire(ctx context.Context) (bool, error) {
	ok, err := s.acquire(ctx, false)
	if err != nil {
		return false, fmt.Errorf("musterlock: semaphore %q: try acquire: %w", s.prefix, err)
	}
	return ok, nil
}

// acquire creates the session and the contender key, takes a slot (waiting
// for one if block), and starts the hold.
func (s *Semaphore) acquire(ctx context.Context, block bool) (bool, error) {
	if s.held() {
		return false, lock.ErrHeld
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	sess, err := newSession(ctx, s.c, sessionSpec{
		name:     s.opts.SessionName,
		ttl:      s.opts.SessionTTL,
		behavior: consul.SessionBehaviorDelete,
	}, s.opts.RenewInterval)
	if err != nil {
		return false, ctxErr(ctx, err)
	}
	ok, err := s.contend(ctx, sess, block)
	if err != nil || !ok {
		sess.abandon(ctx, s.c)
		if err != nil {
			return false, ctxErr(ctx, err)
		}
		return false, nil
	}
	return true, s.begin(ctx, sess)
}

// contend makes sess a contender and adds it to the holder set when there
// is room, waiting for room if block.
func (s *Semaphore) contend(ctx context.Context, sess *session, block bool) (bool, error) {
	kv := s.c.KV()
	contender := &consul.KVPair{
		Key:     path.Join(s.prefix, sess.id),
		Value:   s.opts.Value,
		Session: sess.id,
		Flags:   consul.SemaphoreFlagValue,
	}
	ok, _, err := kv.Acquire(contender, (&consul.WriteOptions{}).WithContext(ctx))
	switch {
	case err != nil:
		return false, fmt.Errorf("create the contender key: %w", err)
	case !ok:
		return false, errors.New("create the contender key: refused")
	}

	var index uint64
	for {
		if gone, err := sess.renew.ended(); gone {
			return false, fmt.Errorf("session lost while waiting: %w", err)
		}
		q := &consul.QueryOptions{WaitIndex: index, WaitTime: s.opts.WaitTime}
		pairs, meta, err := kv.List(s.prefix+"/", q.WithContext(ctx))
		if err != nil {
			return false, fmt.Errorf("read the prefix: %w", err)
		}
		lockPair, st, err := s.state(pairs)
		if err != nil {
			return false, err
		}
		if len(st.Holders) >= s.limit {
			if !block {
				return false, nil
			}
			index = nextIndex(index, meta.LastIndex)
			continue
		}
		st.Holders[sess.id] = true
		didSet, err := s.casState(ctx, st, lockPair)
		switch {
		case err != nil:
			return false, err
		case didSet:
			return true, nil
		}
		index = 0 // another contender changed the set first: read it again at once
	}
}

// state finds PREFIX/.lock among pairs and decodes it, with the holders
// whose contender key is gone (or no longer locked) dropped. lockPair is nil
// when the key does not exist yet.
func (s *Semaphore) state(pairs consul.KVPairs) (*consul.KVPair, *semaphoreState, error) {
	var lockPair *consul.KVPair
	alive := make(map[string]bool, len(pairs))
	for _, p := range pairs {
		if p.Key == s.lockKey {
			lockPair = p
		}
		if p.Session != "" {
			alive[p.Session] = true
		}
	}
	st := &semaphoreState{Limit: s.limit, Holders: map[string]bool{}}
	if lockPair == nil {
		return nil, st, nil
	}
	if lockPair.Flags != consul.SemaphoreFlagValue {
		return nil, nil, fmt.Errorf("%w: %s has flags %#x", ErrConflict, s.lockKey, lockPair.Flags)
	}
	if len(lockPair.Value) > 0 {
		if err := json.Unmarshal(lockPair.Value, st); err != nil {
			return nil, nil, fmt.Errorf("decode %s: %w", s.lockKey, err)
		}
	}
	if st.Limit != s.limit {
		return nil, nil, fmt.Errorf("%w: limit %d there, %d here", ErrConflict, st.Limit, s.limit)
	}
	if st.Holders == nil {
		st.Holders = map[string]bool{}
	}
	for id := range st.Holders {
		if !alive[id] {
			delete(st.Holders, id)
		}
	}
	return lockPair, st, nil
}

// casState writes st to PREFIX/.lock if the key is still as lockPair shows
// it (absent when lockPair is nil).
func (s *Semaphore) casState(ctx context.Context, st *semaphoreState, lockPair *consul.KVPair) (bool, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return false, fmt.Errorf("encode %s: %w", s.lockKey, err)
	}
	p := &consul.KVPair{Key: s.lockKey, Value: b, Flags: consul.SemaphoreFlagValue}
	if lockPair != nil {
		p.ModifyIndex = lockPair.ModifyIndex
	}
	ok, _, err := s.c.KV().CAS(p, (&consul.WriteOptions{}).WithContext(ctx))
	if err != nil {
		return false, fmt.Errorf("update %s: %w", s.lockKey, err)
	}
	return ok, nil
}

// begin records the hold and starts its watchers (see Lock.begin).
func (s *Semaphore) begin(ctx context.Context, sess *session) error {
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	h := &semHold{sess: sess, lost: make(chan struct{}), stop: stop}
	h.watchers.Go(func() { s.monitor(wctx, h) })
	h.watchers.Go(func() {
		select {
		case <-sess.renew.done:
			if sess.renew.err != nil {
				h.lose(sess.renew.err)
			}
		case <-wctx.Done():
		}
	})
	s.mu.Lock()
	if s.h != nil {
		s.mu.Unlock()
		stop()
		h.watchers.Wait()
		sess.abandon(ctx, s.c) // its contender key goes, and with it the slot
		return lock.ErrHeld
	}
	s.h = h
	s.mu.Unlock()
	return nil
}

// monitor watches the prefix with blocking, consistent reads from begin
// until Release cancels ctx, and loses the slot when the holder set, with
// dead holders dropped, no longer lists the session, or when reads fail more
// than MonitorRetries times in a row.
func (s *Semaphore) monitor(ctx context.Context, h *semHold) {
	var index uint64
	fails := 0
	for {
		q := &consul.QueryOptions{WaitIndex: index, WaitTime: s.opts.WaitTime, RequireConsistent: true}
		pairs, meta, err := s.c.KV().List(s.prefix+"/", q.WithContext(ctx))
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if fails++; fails > max(0, s.opts.MonitorRetries) {
				h.lose(fmt.Errorf("watching the prefix failed %d times in a row: %w", fails, err))
				return
			}
			index = 0
			if !sleepCtx(ctx, s.opts.MonitorRetryTime) {
				return
			}
			continue
		}
		_, st, err := s.state(pairs)
		switch {
		case err != nil:
			h.lose(err)
			return
		case !st.Holders[h.sess.id]:
			h.lose(errNotHolder)
			return
		}
		fails, index = 0, nextIndex(index, meta.LastIndex)
	}
}

// Release gives the slot up: it stops the renewer and the monitor and waits
// for them, removes the session from the holder set with a check-and-set,
// and destroys the session (which deletes its contender key). It returns
// lock.ErrNotHeld if there is no hold, and an error wrapping lock.ErrLost if
// the slot had been lost (the hold ends either way). Any other error means
// the release could not be confirmed: the hold ends locally and the slot
// frees itself when the session expires. If removing the holder fails but
// the destroy succeeds, the slot is free (the others drop holders whose
// contender key is gone) and Release returns nil. ctx bounds the round
// trips.
func (s *Semaphore) Release(ctx context.Context) error {
	s.mu.Lock()
	h := s.h
	s.h = nil
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("musterlock: semaphore %q: release: %w", s.prefix, lock.ErrNotHeld)
	}
	h.stop()
	h.sess.renew.stop()
	h.watchers.Wait()
	if gone, err := h.sess.renew.ended(); gone {
		h.lose(err)
	}
	defer h.lose(nil)

	if h.reason != nil {
		_ = destroySession(ctx, s.c, h.sess.id)
		return fmt.Errorf("musterlock: semaphore %q: release: %w: %w", s.prefix, lock.ErrLost, h.reason)
	}
	removed, rmErr := s.removeHolder(ctx, h.sess.id)
	dErr := destroySession(ctx, s.c, h.sess.id)
	switch {
	case rmErr == nil && !removed:
		return fmt.Errorf("musterlock: semaphore %q: release: %w: %w", s.prefix, lock.ErrLost, errNotHolder)
	case rmErr != nil && dErr != nil:
		return fmt.Errorf("musterlock: semaphore %q: release not confirmed, the slot frees itself when the session expires (SessionTTL %v, up to twice that on Consul): %w",
			s.prefix, s.opts.SessionTTL, errors.Join(rmErr, dErr))
	}
	return nil
}

// removeHolder takes id out of the holder set, retrying the check-and-set
// until it wins or ctx ends. It reports false if the set did not list id.
func (s *Semaphore) removeHolder(ctx context.Context, id string) (bool, error) {
	for {
		p, _, err := s.c.KV().Get(s.lockKey, (&consul.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return false, fmt.Errorf("read %s: %w", s.lockKey, err)
		}
		if p == nil {
			return false, nil
		}
		st := &semaphoreState{}
		if len(p.Value) > 0 {
			if err := json.Unmarshal(p.Value, st); err != nil {
				return false, fmt.Errorf("decode %s: %w", s.lockKey, err)
			}
		}
		if !st.Holders[id] {
			return false, nil
		}
		delete(st.Holders, id)
		ok, err := s.casState(ctx, st, p)
		if err != nil || ok {
			return ok, err
		}
	}
}

// Lost returns the current hold's channel, closed when the slot is lost or
// at Release; an already closed channel when there is no hold. Each hold
// gets a fresh channel.
func (s *Semaphore) Lost() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h == nil {
		return closedChan
	}
	return s.h.lost
}

// Session returns the current hold's session ID, "" when there is no hold.
func (s *Semaphore) Session() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h == nil {
		return ""
	}
	return s.h.sess.id
}

// Prefix returns the semaphore's key prefix.
func (s *Semaphore) Prefix() string { return s.prefix }

func (s *Semaphore) held() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h != nil
}
