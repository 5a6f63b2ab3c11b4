package cli

import (
	"context"
	"errors"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
)

// semaphoreLock is the -n>1 lock: Consul's semaphore under PREFIX (a
// contender key per session plus PREFIX/.lock holding the holder list),
// with its own renewed session and its own watch of the prefix.
type semaphoreLock struct {
	s *consulapi.Semaphore
}

// newSemaphoreLock sets up a semaphore of limit holders under prefix.
func newSemaphoreLock(c *api.Client, prefix, name string, limit int, timeout time.Duration, retries int) (*semaphoreLock, error) {
	opts := &consulapi.SemaphoreOptions{
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
	s, err := c.SemaphoreOpts(opts)
	if err != nil {
		return nil, err
	}
	return &semaphoreLock{s: s}, nil
}

func (l *semaphoreLock) acquire(ctx context.Context) (*hold, error) {
	lost, err := l.s.Acquire(ctx.Done())
	if err != nil || lost == nil {
		return nil, err
	}
	return &hold{lost: lost}, nil
}

func (l *semaphoreLock) release() error { return l.s.Release() }

func (l *semaphoreLock) cleanup() error {
	err := l.s.Destroy()
	if errors.Is(err, consulapi.ErrSemaphoreInUse) {
		return errLockInUse
	}
	return err
}
