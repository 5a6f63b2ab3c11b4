package main

import (
	"context"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	consul "github.com/hashicorp/consul/api"
	"github.com/redis/go-redis/v9"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// locker is one contender's handle on a lock. Lock blocks until the lock is
// held or ctx ends; Close frees the handle's session.
type locker interface {
	Lock(ctx context.Context) error
	Unlock(ctx context.Context) error
	Close(ctx context.Context) error
}

// lockVariant is one way to take a lock on one system, as lock-handoff and
// seckill use it.
type lockVariant struct {
	system string
	// kv is the surface the critical section reads and writes with.
	kv func(w int) kv
	// newLocker makes contender w's handle on the lock named key.
	newLocker func(ctx context.Context, w int, key string) (locker, error)
	// retries counts waits that ended without the lock (timeouts, lost
	// spins), for the notes.
	retries *atomic.Int64
}

// lockVariants lists the selected systems' locks. consulAPI adds muster
// driven by the Consul Go client's polling Lock. Consul itself is always
// driven by that client's Lock: it has no fair acquire.
func (e *env) lockVariants(consulAPI bool) []lockVariant {
	var vs []lockVariant
	if e.muster != nil {
		n := new(atomic.Int64)
		kv := func(w int) kv { return musterKV{c: e.musterAt(w)} }
		vs = append(vs, lockVariant{"muster", kv,
			func(ctx context.Context, w int, key string) (locker, error) {
				return newMusterFairLock(ctx, e.musterAt(w), key, n)
			}, n})
		if consulAPI {
			vs = append(vs, lockVariant{"muster(consul-api-lock)", kv,
				func(ctx context.Context, w int, key string) (locker, error) {
					return newConsulAPILock(ctx, e.musterAt(w), key)
				},
				new(atomic.Int64)})
		}
	}
	if c := e.consul; c != nil {
		vs = append(vs, lockVariant{"consul", func(int) kv { return musterKV{c: c} },
			func(ctx context.Context, _ int, key string) (locker, error) { return newConsulAPILock(ctx, c, key) },
			new(atomic.Int64)})
	}
	if et := e.etcd; et != nil {
		vs = append(vs, lockVariant{"etcd", func(w int) kv { return etcdKV{e: et, worker: w} },
			func(ctx context.Context, w int, key string) (locker, error) { return newEtcdLock(et, w, key) }, new(atomic.Int64)})
	}
	if rc := e.redis; rc != nil {
		n := new(atomic.Int64)
		vs = append(vs, lockVariant{"redis", func(int) kv { return redisKV{c: rc} },
			func(ctx context.Context, w int, key string) (locker, error) {
				return newRedisSpinLock(rc, w, key, n), nil
			}, n})
	}
	return vs
}

// fairWait is how long one fair acquire waits in muster's queue before it
// answers false and the contender asks again.
const fairWait = 10 * time.Second

// musterFairLock uses muster's fair-lock extension: PUT
// /v1/kv/KEY?acquire=SESSION&wait=10s blocks in a FIFO queue on the server
// and answers true when granted; PUT ?release=SESSION hands the key to the
// next in line.
type musterFairLock struct {
	c        *musterClient // its http.Client has no timeout: the wait is the server's
	key      string
	session  string
	timeouts *atomic.Int64
}

func newMusterFairLock(ctx context.Context, c *musterClient, key string, timeouts *atomic.Int64) (*musterFairLock, error) {
	s, err := c.createSession(ctx, "musterbench")
	if err != nil {
		return nil, err
	}
	return &musterFairLock{c: c, key: key, session: s, timeouts: timeouts}, nil
}

func (l *musterFairLock) Lock(ctx context.Context) error {
	q := url.Values{"acquire": {l.session}, "wait": {fairWait.String()}}
	for {
		ok, err := l.c.put(ctx, l.key, nil, q)
		if err != nil || ok {
			return err
		}
		l.timeouts.Add(1)
	}
}

func (l *musterFairLock) Unlock(ctx context.Context) error {
	ok, err := l.c.put(ctx, l.key, nil, url.Values{"release": {l.session}})
	if err == nil && !ok {
		err = fmt.Errorf("PUT %s answered false: the session did not hold the lock", kvPath(l.key, url.Values{"release": {l.session}}))
	}
	return err
}

func (l *musterFairLock) Close(ctx context.Context) error { return l.c.destroySession(ctx, l.session) }

// consulAPILock is the Consul Go client's Lock on a session of c (muster
// or Consul, no lock-delay): it long-polls the key and races plain
// ?acquire when it sees it free; after a lost race that finds the key free
// again it sleeps 5 s (DefaultLockRetryTime).
type consulAPILock struct {
	c       *musterClient
	l       *consul.Lock
	session string
}

func newConsulAPILock(ctx context.Context, c *musterClient, key string) (*consulAPILock, error) {
	s, err := c.createSession(ctx, "musterbench-consul-api")
	if err != nil {
		return nil, err
	}
	l, err := c.consul.LockOpts(&consul.LockOptions{Key: key, Session: s})
	if err != nil {
		return nil, err
	}
	return &consulAPILock{c: c, l: l, session: s}, nil
}

func (l *consulAPILock) Lock(ctx context.Context) error {
	ch, err := l.l.Lock(ctx.Done())
	if err == nil && ch == nil {
		err = ctx.Err()
	}
	return err
}

func (l *consulAPILock) Unlock(context.Context) error { return l.l.Unlock() }

func (l *consulAPILock) Close(ctx context.Context) error { return l.c.destroySession(ctx, l.session) }

// etcdLock is client/v3/concurrency's Mutex on its own session (lease).
type etcdLock struct {
	s *concurrency.Session
	m *concurrency.Mutex
}

func newEtcdLock(e *etcdPeer, w int, key string) (*etcdLock, error) {
	s, err := concurrency.NewSession(e.client(w), concurrency.WithTTL(30))
	if err != nil {
		return nil, err
	}
	return &etcdLock{s: s, m: concurrency.NewMutex(s, "/"+key)}, nil
}

func (l *etcdLock) Lock(ctx context.Context) error   { return l.m.Lock(ctx) }
func (l *etcdLock) Unlock(ctx context.Context) error { return l.m.Unlock(ctx) }
func (l *etcdLock) Close(context.Context) error      { return l.s.Close() }

// redisSpin is how long a Redis contender sleeps after a failed SET NX.
const redisSpin = time.Millisecond

// redisLockTTL expires a lock whose holder died; the critical sections
// here take well under it.
const redisLockTTL = 5 * time.Second

// redisRelease deletes the lock only if it still holds our token.
var redisRelease = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`)

// redisSpinLock is the common Redis lock: SET key token NX PX, retried
// after a short sleep (unfair: whoever asks first after a release wins),
// released by a compare-and-delete script.
type redisSpinLock struct {
	c     *redis.Client
	key   string
	id    string
	n     int
	token string
	spins *atomic.Int64
}

func newRedisSpinLock(c *redis.Client, w int, key string, spins *atomic.Int64) *redisSpinLock {
	return &redisSpinLock{c: c, key: key, id: fmt.Sprintf("w%d-%d", w, time.Now().UnixNano()), spins: spins}
}

func (l *redisSpinLock) Lock(ctx context.Context) error {
	l.n++
	l.token = fmt.Sprintf("%s-%d", l.id, l.n)
	for {
		ok, err := l.c.SetNX(ctx, l.key, l.token, redisLockTTL).Result()
		if err != nil || ok {
			return err
		}
		l.spins.Add(1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(redisSpin):
		}
	}
}

func (l *redisSpinLock) Unlock(ctx context.Context) error {
	n, err := redisRelease.Run(ctx, l.c, []string{l.key}, l.token).Int()
	if err == nil && n != 1 {
		err = fmt.Errorf("release %s: token %s no longer held (expired?)", l.key, l.token)
	}
	return err
}

func (l *redisSpinLock) Close(context.Context) error { return nil }
