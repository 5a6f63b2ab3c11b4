package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
)

// semaphoreLock is the -n>1 lock: Consul's semaphore under PREFIX (a
// contender key per session plus PREFIX/.lock holding the holder list),
// with its own watch of the prefix.
//
// The session is ours, not the semaphore's: consul/api's semaphore destroys
// a session it made in a goroutine that nobody waits for, so a command that
// exits right after Release can leave the session (and its contender key)
// behind for a whole TTL. Our renewal destroys it before release returns.
type semaphoreLock struct {
	c     *api.Client
	opts  consulapi.SemaphoreOptions
	s     *consulapi.Semaphore
	renew *renewal // nil when no session is held
}

// newSemaphoreLock sets up a semaphore of limit holders under prefix.
func newSemaphoreLock(c *api.Client, prefix, name string, limit int, timeout time.Duration, retries int) (*semaphoreLock, error) {
	opts := consulapi.SemaphoreOptions{
		Prefix:           prefix,
		Limit:            limit,
		SessionName:      name,
		SessionTTL:       lockSessionTTL,
		MonitorRetries:   retries,
		MonitorRetryTime: defaultMonitorRetryTime,
	}
	if timeout > 0 {
		opts.SemaphoreTryOnce = true
		opts.SemaphoreWaitTime = timeout
	}
	// Validate the options before any session exists.
	if _, err := c.SemaphoreOpts(&opts); err != nil {
		return nil, err
	}
	return &semaphoreLock{c: c, opts: opts}, nil
}

func (l *semaphoreLock) acquire(ctx context.Context) (*hold, error) {
	se := &consulapi.SessionEntry{Name: l.opts.SessionName, TTL: lockSessionTTL, Behavior: consulapi.SessionBehaviorDelete}
	id, _, err := l.c.Session().Create(se, (&consulapi.WriteOptions{}).WithContext(ctx))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil
		}
		return nil, fmt.Errorf("cli: create semaphore session: %w", err)
	}
	l.renew = startRenewal(l.c.Session(), id)
	opts := l.opts
	opts.Session = id
	if l.s, err = l.c.SemaphoreOpts(&opts); err != nil {
		l.endSession()
		return nil, err
	}
	lost, err := l.s.Acquire(ctx.Done())
	if err != nil || lost == nil {
		l.endSession()
		return nil, err
	}
	return &hold{lost: lost}, nil
}

func (l *semaphoreLock) release() error {
	err := l.s.Release()
	l.endSession()
	return err
}

// endSession stops renewal and waits until the session is destroyed, which
// also deletes its contender key (Behavior delete).
func (l *semaphoreLock) endSession() {
	if l.renew != nil {
		l.renew.stop()
		l.renew = nil
	}
}

func (l *semaphoreLock) cleanup() error {
	err := l.s.Destroy()
	if errors.Is(err, consulapi.ErrSemaphoreInUse) {
		return errLockInUse
	}
	return err
}
