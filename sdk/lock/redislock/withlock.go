package redislock

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/musterhq/muster/sdk/lock"
)

// WithLock runs fn holding the lock on key, the seed's ExecuteLocked(key,
// fn): it makes a Lock on key with opts and runs lock.WithLock, so fn's
// context is cancelled if the lease is lost, and the lock is released
// however fn ends. Errors are lock.WithLock's, or New's for bad options.
func WithLock(ctx context.Context, client redis.UniversalClient, key string, opts Options, fn func(ctx context.Context) error) error {
	l, err := New(client, key, opts)
	if err != nil {
		return fmt.Errorf("redislock: %w", err)
	}
	return lock.WithLock(ctx, l, fn)
}
