package redislock

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/musterhq/muster/internal/testredis"
)

// startRedis starts a real redis-server for t (internal/testredis) and
// returns its address; it skips t if redis-server is not on PATH.
func startRedis(t *testing.T) string {
	t.Helper()
	addr := testredis.Start(t)
	if addr == "" {
		t.Skip("redis-server not on PATH (apt-get install redis-server): skipping tests against a real Redis")
	}
	return addr
}

// newClient returns a client of the server at addr, closed in t.Cleanup.
// Each Lock gets its own, as a separate process would have.
func newClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 4})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newLock returns a Lock on key with its own client; a hold still open when
// t ends is released in t.Cleanup, before the client closes.
func newLock(t *testing.T, addr, key string, opts Options) (*Lock, *redis.Client) {
	t.Helper()
	c := newClient(t, addr)
	l, err := New(c, key, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = l.Unlock(context.Background()) })
	return l, c
}
