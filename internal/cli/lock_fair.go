package cli

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
)

// fairWaitMax is how long one fair-lock wait may park on the server (its
// cap): a longer wait is a sequence of these, each rejoining the queue.
const fairWaitMax = 10 * time.Minute

// fairLock is the -n=1 lock: one key taken with muster's fair acquire
// (api.Client.AcquireWait), which parks the session in the key's FIFO queue
// on the server until the key is granted to it, so waiters are served in
// arrival order without polling. The session has lockSessionTTL and is
// renewed from acquire until release. While held, the key is watched with
// blocking queries; losing it (another session on the key, the key gone,
// the session's renewal failing, or more than retries errors in a row)
// closes hold.lost.
type fairLock struct {
	c         *api.Client
	key       string        // PREFIX/.lock
	name      string        // session name
	timeout   time.Duration // 0 waits forever
	retries   int           // watch errors tolerated in a row
	retryWait time.Duration // pause between those retries

	// Set by a successful acquire.
	session     string
	renew       *renewal
	lost        chan struct{} // closed once, via loseOnce
	loseOnce    sync.Once
	stopWatch   context.CancelFunc // ends watch
	watchExited chan struct{}      // closed when watch returns
}

func (l *fairLock) acquire(ctx context.Context) (*hold, error) {
	if err := l.checkConflict(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, nil
		}
		return nil, err
	}
	se := &consulapi.SessionEntry{Name: l.name, TTL: lockSessionTTL}
	id, _, err := l.c.Session().Create(se, (&consulapi.WriteOptions{}).WithContext(ctx))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil
		}
		return nil, fmt.Errorf("cli: create lock session: %w", err)
	}
	l.session, l.renew = id, startRenewal(l.c.Session(), id)
	a, err := l.wait(ctx)
	if err != nil || !a.Acquired {
		// Destroying the session also frees the key if it was granted
		// in a reply we never read (ctx ended mid-request).
		l.renew.stop()
		return nil, err
	}
	l.lost, l.watchExited = make(chan struct{}), make(chan struct{})
	wctx, cancel := context.WithCancel(context.Background())
	l.stopWatch = cancel
	go l.watch(wctx)
	env := []string{envFencingToken + "=" + strconv.FormatUint(a.FencingToken, 10)}
	return &hold{lost: l.lost, env: env}, nil
}

// checkConflict refuses a key that some other kind of lock uses (a Consul
// semaphore's .lock, recognised by its flags) rather than overwrite it, as
// Consul's lock does. Keys with no flags (muster's fair lock) or Consul's
// lock flags are fine.
func (l *fairLock) checkConflict(ctx context.Context) error {
	p, _, err := l.c.KV().Get(l.key, (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return fmt.Errorf("cli: read lock key: %w", err)
	}
	if p != nil && p.Flags != 0 && p.Flags != consulapi.LockFlagValue {
		return consulapi.ErrLockConflict
	}
	return nil
}

// wait queues for the key until it is granted, -timeout passes, ctx ends
// or the session dies. Only a grant or an error is reported: otherwise the
// Acquisition is zero.
func (l *fairLock) wait(ctx context.Context) (api.Acquisition, error) {
	var deadline time.Time
	if l.timeout > 0 {
		deadline = time.Now().Add(l.timeout)
	}
	for {
		wait := fairWaitMax
		if l.timeout > 0 {
			if wait = time.Until(deadline); wait <= 0 {
				return api.Acquisition{}, nil
			}
		}
		a, err := l.c.AcquireWait(ctx, l.key, l.session, nil, wait)
		switch {
		case ctx.Err() != nil:
			return api.Acquisition{}, nil
		case err != nil:
			return a, fmt.Errorf("cli: acquire %s: %w", l.key, err)
		case a.Acquired:
			return a, nil
		}
		select {
		case <-l.renew.done:
			return a, fmt.Errorf("cli: lock session ended while waiting: %v", l.renew.err)
		default:
		}
	}
}

// watch follows the key with blocking queries and declares the lock lost
// when another session (or none) holds it, when the session's renewal
// fails, or after more than l.retries errors in a row. It runs from acquire
// until release cancels ctx.
func (l *fairLock) watch(ctx context.Context) {
	defer close(l.watchExited)
	go func() {
		select {
		case <-l.renew.done:
			l.lose(ctx) // renewal ends on its own only when the session is gone
		case <-ctx.Done():
		}
	}()
	var index uint64
	errs := 0
	for ctx.Err() == nil {
		q := (&consulapi.QueryOptions{WaitIndex: index, RequireConsistent: true}).WithContext(ctx)
		p, meta, err := l.c.KV().Get(l.key, q)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if errs++; errs > l.retries {
				l.lose(ctx)
				return
			}
			sleepCtx(ctx, l.retryWait)
			continue
		case p == nil || p.Session != l.session:
			l.lose(ctx)
			return
		}
		errs, index = 0, meta.LastIndex
	}
}

// lose closes l.lost unless release has begun (ctx, the watch's, ended).
func (l *fairLock) lose(ctx context.Context) {
	if ctx.Err() == nil {
		l.loseOnce.Do(func() { close(l.lost) })
	}
}

// release stops the watch, releases the key and ends the session. A failed
// release is not reported when the lock was already lost: the session is
// gone or going, which frees the key anyway.
func (l *fairLock) release() error {
	l.stopWatch()
	<-l.watchExited
	_, _, err := l.c.KV().Release(&consulapi.KVPair{Key: l.key, Session: l.session}, nil)
	l.renew.stop()
	select {
	case <-l.lost:
		return nil
	default:
	}
	if err != nil {
		return fmt.Errorf("cli: release %s: %w", l.key, err)
	}
	return nil
}

// cleanup deletes the key if it is free. The server grants a released key to
// the next waiter in the same step, so a free key has nobody queued, and
// the check-and-set delete loses to any session that takes it meanwhile.
func (l *fairLock) cleanup() error {
	kv := l.c.KV()
	p, _, err := kv.Get(l.key, nil)
	switch {
	case err != nil:
		return fmt.Errorf("cli: read lock key: %w", err)
	case p == nil:
		return nil
	case p.Session != "":
		return errLockInUse
	}
	ok, _, err := kv.DeleteCAS(p, nil)
	switch {
	case err != nil:
		return fmt.Errorf("cli: delete lock key: %w", err)
	case !ok:
		return errLockInUse
	}
	return nil
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// renewal keeps a TTL session alive with consulapi.Session.RenewPeriodic
// (renewing every half TTL) until stopped or the session is gone.
type renewal struct {
	stopCh   chan struct{}
	stopOnce sync.Once
	done     chan struct{} // closed when renewal has ended
	err      error         // why it ended, nil if stopped; read after done
}

func startRenewal(s *consulapi.Session, id string) *renewal {
	r := &renewal{stopCh: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = s.RenewPeriodic(lockSessionTTL, id, nil, r.stopCh)
	}()
	return r
}

// stop ends renewal, destroying the session (RenewPeriodic does so when
// stopped), and waits until that is done. It may be called more than once.
func (r *renewal) stop() {
	r.stopOnce.Do(func() { close(r.stopCh) })
	<-r.done
}
