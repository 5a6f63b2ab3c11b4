package main

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/sdk/lock"
	"github.com/musterhq/muster/sdk/lock/musterlock"
	"github.com/musterhq/muster/sdk/lock/redislock"
)

// deps are a process's connections: its store, and what its buyers' locks
// need. Each process opens its own, like the seed's separate consoles.
type deps struct {
	store   store
	muster  *api.Client   // nil unless the store or the lock is muster's
	redis   *redis.Client // nil unless the store or the lock is Redis's
	cfg     *config       // never nil
	lockKey string        // the lock's key, under the run's prefix
	// sessions are the buyers' muster lock sessions, closed by close.
	sessions []*musterlock.Session
}

// openDeps connects to what cfg names. It does not check that the servers
// answer: the first buy does.
func openDeps(cfg *config) (*deps, error) {
	d := &deps{cfg: cfg, lockKey: runPrefix(cfg.Run) + keyLock}
	if cfg.Store == storeMuster || cfg.Lock == modeMuster {
		c, err := api.NewClient(&api.Config{Address: cfg.Agent})
		if err != nil {
			return nil, fmt.Errorf("seckill: %w", err)
		}
		d.muster = c
	}
	if cfg.Store == storeRedis || cfg.Lock == modeRedis || cfg.Lock == modeRedisTry {
		// One connection per buyer at most: they all start at once.
		d.redis = redis.NewClient(&redis.Options{Addr: cfg.Redis, PoolSize: cfg.Buyers + 2})
	}
	if cfg.Store == storeRedis {
		d.store = newRedisStore(d.redis, cfg.Run)
	} else {
		d.store = newMusterStore(d.muster, cfg.Run)
	}
	return d, nil
}

// newLocker returns a new holder's handle on the run's lock for the lock
// modes, nil for the others.
func (d *deps) newLocker() (lock.Locker, error) {
	switch d.cfg.Lock {
	case modeRedis, modeRedisTry:
		// The seed's timeout is both the lease and the wait; here the lease
		// is redislock's default (renewed while held) and --lock-wait bounds
		// the wait.
		l, err := redislock.New(d.redis, d.lockKey, redislock.Options{})
		if err != nil {
			return nil, fmt.Errorf("seckill: %w", err)
		}
		return l, nil
	case modeMuster:
		l, s, err := newMusterLocker(d.muster, d.lockKey)
		if err != nil {
			return nil, err
		}
		d.sessions = append(d.sessions, s)
		return l, nil
	}
	return nil, nil
}

func (d *deps) close() {
	for _, s := range d.sessions {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Close(ctx) // a session left behind expires after its TTL
		cancel()
	}
	if d.redis != nil {
		_ = d.redis.Close()
	}
}
