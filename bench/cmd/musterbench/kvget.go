package main

import (
	"bytes"
	"context"
	"fmt"
	"time"
)

// getKeys is how many keys kv-get preloads and reads.
const getKeys = 1000

// kvGet: preload 1000 keys, then every worker reads them in a scattered
// order; each value is checked. Variants: muster's default consistency
// (served by the leader from its state) and ?consistent (leadership
// verified per read); etcd's linearizable default and serializable reads.
func kvGet(ctx context.Context, e *env) []*result {
	type variant struct {
		name string
		kv   func(w int) kv
	}
	var out []*result
	for _, t := range e.targets() {
		r := newResult("kv-get", t.name, "ops/s", "get")
		if err := preload(ctx, t.kv(0)); err != nil {
			r.fail("preload: %v", err)
			out = append(out, r)
			continue
		}
		vs := []variant{{t.name, t.kv}}
		switch t.name {
		case "muster":
			vs = append(vs, variant{"muster(consistent)", func(w int) kv { return musterKV{c: e.musterAt(w), consistent: true} }})
		case "etcd":
			vs[0].name = "etcd(linearizable)"
			vs = append(vs, variant{"etcd(serializable)", func(w int) kv { return etcdKV{e: e.etcd, worker: w, serializable: true} }})
		}
		for _, v := range vs {
			r := newResult("kv-get", v.name, "ops/s", "get")
			c0 := e.cpuNow(r.system)
			l := hammer(ctx, e.cfg.clients, e.cfg.duration, e.cfg.maxOps, opTimeout, func(ctx context.Context, w, seq int) error {
				k := getKey((w*7919 + seq*31) % getKeys)
				b, err := v.kv(w).Get(ctx, k)
				if err != nil {
					return err
				}
				if !bytes.Equal(b, valueFor(k, valueSize)) {
					return fmt.Errorf("get %s: wrong value %q", k, b)
				}
				return nil
			})
			e.cpuSince(r, c0, l.ops+l.errs)
			r.fromLoad(l)
			out = append(out, r)
		}
	}
	return out
}

func getKey(i int) string { return fmt.Sprintf("bench/get/%04d", i) }

func preload(ctx context.Context, s kv) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for i := range getKeys {
		k := getKey(i)
		if err := s.Put(ctx, k, valueFor(k, valueSize)); err != nil {
			return err
		}
	}
	return nil
}
