package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// kv is the plain key/value surface shared by the simple workloads and the
// critical sections of the lock workloads. Get returns errNotFound for a
// missing key.
type kv interface {
	Put(ctx context.Context, key string, value []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
}

// target is one system as the simple workloads see it.
type target struct {
	name string
	// kv returns worker w's handle (etcd gives each worker its own client;
	// with -cluster both talk to node w%3).
	kv func(w int) kv
	// count returns how many keys start with prefix.
	count func(ctx context.Context, prefix string) (int, error)
}

// targets lists the selected systems in table order: muster, consul,
// the net/http floor (with muster; see floor.go), etcd, redis. consul is
// plain Consul KV, muster's surface without its extensions.
func (e *env) targets() []target {
	var ts []target
	if m := e.muster; m != nil {
		ts = append(ts, target{
			name:  "muster",
			kv:    func(w int) kv { return musterKV{c: e.musterAt(w)} },
			count: apiKeyCount(m),
		})
	}
	if c := e.consul; c != nil {
		ts = append(ts, target{
			name:  "consul",
			kv:    func(int) kv { return musterKV{c: c} },
			count: apiKeyCount(c),
		})
	}
	if f := e.floor; f != nil {
		ts = append(ts, target{
			name:  floorSystem + "(floor)",
			kv:    func(int) kv { return musterKV{c: f} },
			count: apiKeyCount(f),
		})
	}
	if et := e.etcd; et != nil {
		ts = append(ts, target{
			name: "etcd",
			kv:   func(w int) kv { return etcdKV{e: et, worker: w} },
			count: func(ctx context.Context, prefix string) (int, error) {
				r, err := et.client(0).Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
				if err != nil {
					return 0, err
				}
				return int(r.Count), nil
			},
		})
	}
	if rc := e.redis; rc != nil {
		ts = append(ts, target{
			name: "redis",
			kv:   func(int) kv { return redisKV{c: rc} },
			count: func(ctx context.Context, prefix string) (int, error) {
				n := 0
				iter := rc.Scan(ctx, 0, prefix+"*", 10000).Iterator()
				for iter.Next(ctx) {
					n++
				}
				return n, iter.Err()
			},
		})
	}
	return ts
}

// apiKeyCount counts keys with GET /v1/kv/PREFIX?keys (muster, Consul).
func apiKeyCount(c *musterClient) func(ctx context.Context, prefix string) (int, error) {
	return func(ctx context.Context, prefix string) (int, error) {
		ks, err := c.keys(ctx, prefix)
		return len(ks), err
	}
}

// valueFor is the deterministic n-byte value the bench writes to key, so a
// read can be checked without remembering what was written.
func valueFor(key string, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = '.'
	}
	copy(b, key)
	copy(b[max(n-len(key), len(key)):], key)
	return b
}

// getInt reads a decimal counter.
func getInt(ctx context.Context, s kv, key string) (int64, error) {
	b, err := s.Get(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("get %s: %w", key, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("get %s: not a counter: %q", key, b)
	}
	return n, nil
}

func putInt(ctx context.Context, s kv, key string, n int64) error {
	if err := s.Put(ctx, key, []byte(strconv.FormatInt(n, 10))); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// isNotFound reports a missing key.
func isNotFound(err error) bool { return errors.Is(err, errNotFound) }
