package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const casKey = "bench/cas/counter"

// incrFunc adds one to the shared counter with a compare-and-set retry
// loop and reports how many attempts lost a race first.
type incrFunc func(ctx context.Context, w int) (conflicts int64, err error)

// kvCAS: every worker increments ONE counter with compare-and-set retries.
// The rate counts successful increments; the latency of an increment
// includes its retries. Check: the final counter equals the successes.
func kvCAS(ctx context.Context, e *env) []*result {
	type variant struct {
		name string
		incr incrFunc
		kv   kv
	}
	var vs []variant
	if c := e.muster; c != nil {
		vs = append(vs, variant{"muster", musterIncr(c), musterKV{c: c}})
	}
	if c := e.consul; c != nil {
		vs = append(vs, variant{"consul", musterIncr(c), musterKV{c: c}})
	}
	if c := e.etcd; c != nil {
		vs = append(vs, variant{"etcd", etcdIncr(c), etcdKV{e: c}})
	}
	if c := e.redis; c != nil {
		vs = append(vs, variant{"redis", redisIncr(c), redisKV{c: c}})
	}
	var out []*result
	for _, v := range vs {
		r := newResult("kv-cas", v.name, "incr/s", "increment")
		out = append(out, r)
		if err := putInt(ctx, v.kv, casKey, 0); err != nil {
			r.fail("reset counter: %v", err)
			continue
		}
		var conflicts atomic.Int64
		c0 := e.cpuNow(r.system)
		l := hammer(ctx, e.cfg.clients, e.cfg.duration, e.cfg.maxOps, opTimeout, func(ctx context.Context, w, _ int) error {
			n, err := v.incr(ctx, w)
			conflicts.Add(n)
			return err
		})
		e.cpuSince(r, c0, l.ops+l.errs)
		r.fromLoad(l)
		r.note("%d lost CAS races (%.2f per increment)", conflicts.Load(), float64(conflicts.Load())/max(float64(l.ops), 1))
		vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		n, err := getInt(vctx, v.kv, casKey)
		cancel()
		if r.check(err == nil, "read counter: %v", err) {
			r.check(n == l.ops, "counter is %d, %d increments succeeded", n, l.ops)
		}
	}
	return out
}

// musterIncr: GET the key, then PUT ?cas=ModifyIndex; false means another
// writer won, so read again. Plain Consul KV, so it drives Consul as well.
func musterIncr(c *musterClient) incrFunc {
	return func(ctx context.Context, _ int) (int64, error) {
		for conflicts := int64(0); ; conflicts++ {
			ent, _, err := c.get(ctx, c.hc, casKey, nil)
			if err != nil {
				return conflicts, err
			}
			n, err := strconv.ParseInt(string(ent.Value), 10, 64)
			if err != nil {
				return conflicts, fmt.Errorf("counter %q: %v", ent.Value, err)
			}
			ok, err := c.put(ctx, casKey, []byte(strconv.FormatInt(n+1, 10)),
				url.Values{"cas": {strconv.FormatUint(ent.ModifyIndex, 10)}})
			if err != nil || ok {
				return conflicts, err
			}
		}
	}
}

// etcdIncr: Get, then a Txn that puts n+1 if the key's ModRevision is
// unchanged.
func etcdIncr(e *etcdPeer) incrFunc {
	return func(ctx context.Context, w int) (int64, error) {
		cli := e.client(w)
		for conflicts := int64(0); ; conflicts++ {
			g, err := cli.Get(ctx, casKey)
			if err != nil {
				return conflicts, err
			}
			if len(g.Kvs) != 1 {
				return conflicts, fmt.Errorf("counter missing")
			}
			kvp := g.Kvs[0]
			n, err := strconv.ParseInt(string(kvp.Value), 10, 64)
			if err != nil {
				return conflicts, fmt.Errorf("counter %q: %v", kvp.Value, err)
			}
			t, err := cli.Txn(ctx).
				If(clientv3.Compare(clientv3.ModRevision(casKey), "=", kvp.ModRevision)).
				Then(clientv3.OpPut(casKey, strconv.FormatInt(n+1, 10))).
				Commit()
			if err != nil || t.Succeeded {
				return conflicts, err
			}
		}
	}
}

// redisIncr: WATCH the key, GET, MULTI/SET/EXEC; EXEC fails if the key
// changed in between.
func redisIncr(c *redis.Client) incrFunc {
	return func(ctx context.Context, _ int) (int64, error) {
		for conflicts := int64(0); ; conflicts++ {
			err := c.Watch(ctx, func(tx *redis.Tx) error {
				n, err := tx.Get(ctx, casKey).Int64()
				if err != nil {
					return err
				}
				_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Set(ctx, casKey, n+1, 0)
					return nil
				})
				return err
			}, casKey)
			if !errors.Is(err, redis.TxFailedErr) {
				return conflicts, err
			}
		}
	}
}
