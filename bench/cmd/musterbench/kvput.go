package main

import (
	"bytes"
	"context"
	"fmt"
	"time"
)

// valueSize is the size of the values kv-put and kv-get write.
const valueSize = 128

// opTimeout bounds one simple operation.
const opTimeout = 10 * time.Second

// kvPut: every worker writes its own distinct keys (bench/put/W/SEQ),
// 128-byte values. Checks: no errors, the number of keys under the prefix
// equals the successful puts, and each worker's first key reads back.
func kvPut(ctx context.Context, e *env) []*result {
	var out []*result
	for _, t := range e.targets() {
		r := newResult("kv-put", t.name, "ops/s", "put")
		key := func(w, seq int) string { return fmt.Sprintf("bench/put/%02d/%08d", w, seq) }
		c0 := e.cpuNow(r.system)
		l := hammer(ctx, e.cfg.clients, e.cfg.duration, e.cfg.maxOps, opTimeout, func(ctx context.Context, w, seq int) error {
			k := key(w, seq)
			return t.kv(w).Put(ctx, k, valueFor(k, valueSize))
		})
		e.cpuSince(r, c0, l.ops+l.errs)
		r.fromLoad(l)
		vctx, cancel := context.WithTimeout(ctx, time.Minute)
		n, err := t.count(vctx, "bench/put/")
		if r.check(err == nil, "counting keys: %v", err) {
			r.check(int64(n) == l.ops, "%d keys stored under bench/put/, %d puts succeeded", n, l.ops)
		}
		for w := range e.cfg.clients {
			k := key(w, 0)
			v, err := t.kv(w).Get(vctx, k)
			if !r.check(err == nil && bytes.Equal(v, valueFor(k, valueSize)), "read back %s: %q, %v", k, v, err) {
				break
			}
		}
		cancel()
		out = append(out, r)
	}
	return out
}
