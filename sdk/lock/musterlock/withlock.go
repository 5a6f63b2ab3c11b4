package musterlock

import (
	"context"
	"fmt"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/sdk/lock"
)

// WithLock runs fn holding the lock on key, the seed's ExecuteLocked(key,
// fn): it makes a Lock on key with opts and runs lock.WithLock, so fn's
// context is cancelled if the lease is lost, and the lock is released
// however fn ends. Errors are lock.WithLock's, or New's for bad options.
func WithLock(ctx context.Context, c *api.Client, key string, opts Options, fn func(ctx context.Context) error) error {
	l, err := New(c, key, opts)
	if err != nil {
		return fmt.Errorf("musterlock: %w", err)
	}
	return lock.WithLock(ctx, l, fn)
}
