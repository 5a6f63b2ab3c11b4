package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// seckillTimeout bounds one sale.
const seckillTimeout = time.Minute

// buyFunc makes one purchase attempt for buyer w. It returns whether an
// item was bought and the stock left after the attempt; bought false means
// sold out.
type buyFunc func(ctx context.Context, w int) (bought bool, left int64, err error)

// seckill ("flash sale"): -stock items, every buyer loops lock, read stock,
// if >0 decrement it and increment orders, unlock, until the stock is 0.
// The headline is the time until the last item sold; the latency is one
// purchase, lock wait included. Checks: orders == stock sold == purchases
// counted by the buyers, stock == 0. muster and Consul also run lock-free:
// read both keys, then /v1/txn with check-index guards, retried on 409
// (the "(txn)" rows); muster also with its add verb ("muster(add)").
func seckill(ctx context.Context, e *env) []*result {
	var out []*result
	for _, v := range e.lockVariants(false) {
		out = append(out, runSeckill(ctx, e, v.system, v.kv(0), func(ctx context.Context, prefix string) (buyFunc, func(), error) {
			lockers, err := newLockers(ctx, e.cfg.clients, v, prefix+"lock")
			if err != nil {
				return nil, nil, err
			}
			return lockBuy(v, lockers, prefix), func() { closeLockers(lockers) }, nil
		}))
		switch v.system {
		case "muster":
			out = append(out, txnSeckill(ctx, e, "muster(txn)", v.kv(0), e.musterAt))
			out = append(out, runSeckill(ctx, e, "muster(add)", v.kv(0), func(_ context.Context, prefix string) (buyFunc, func(), error) {
				return musterAddBuy(e.musterAt, prefix), func() {}, nil
			}))
		case "consul":
			out = append(out, txnSeckill(ctx, e, "consul(txn)", v.kv(0), func(int) *musterClient { return e.consul }))
		}
	}
	return out
}

// txnSeckill runs the lock-free check-and-set sale (musterTxnBuy) as row
// system, buyer w talking to at(w).
func txnSeckill(ctx context.Context, e *env, system string, s kv, at func(w int) *musterClient) *result {
	var conflicts atomic.Int64
	r := runSeckill(ctx, e, system, s, func(_ context.Context, prefix string) (buyFunc, func(), error) {
		return musterTxnBuy(at, prefix, &conflicts), func() {}, nil
	})
	r.note("%d transactions refused with 409 and retried", conflicts.Load())
	return r
}

// setupBuy prepares one sale's buyers under prefix; done frees them.
type setupBuy func(ctx context.Context, prefix string) (buy buyFunc, done func(), err error)

func runSeckill(ctx context.Context, e *env, system string, s kv, setup setupBuy) *result {
	r := newResult("seckill", system, "s", "buy")
	r.lowerIsBetter = true
	ctx, cancel := context.WithTimeout(ctx, seckillTimeout)
	defer cancel()
	prefix := "bench/seckill/" + slug(system) + "/"
	stock := int64(e.cfg.stock)
	if err := putInt(ctx, s, prefix+"stock", stock); err != nil {
		r.fail("setup: %v", err)
		return r
	}
	if err := putInt(ctx, s, prefix+"orders", 0); err != nil {
		r.fail("setup: %v", err)
		return r
	}
	buy, done, err := setup(ctx, prefix)
	if err != nil {
		r.fail("setup: %v", err)
		return r
	}
	defer done()

	n := e.cfg.clients
	bought := make([]int64, n)
	lats := make([]latencies, n)
	errs := make([]error, n)
	var soldOutAt atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				t := time.Now()
				ok, left, err := buy(ctx, w)
				if err != nil {
					errs[w] = fmt.Errorf("buyer %d: %w", w, err)
					return
				}
				if !ok {
					return // sold out
				}
				lats[w] = append(lats[w], time.Since(t))
				bought[w]++
				if left == 0 {
					soldOutAt.Store(int64(time.Since(start)))
				}
			}
		})
	}
	wg.Wait()
	allDone := time.Since(start)
	var all latencies
	for w := range n {
		all = append(all, lats[w]...)
		r.check(errs[w] == nil, "%v", errs[w])
	}
	r.lat = all.summarize()
	sold := time.Duration(soldOutAt.Load())
	r.value = sold.Seconds()
	if !r.check(sold > 0, "never sold out (ran %s)", fmtDur(allDone)) {
		r.value = allDone.Seconds()
	}
	var total int64
	for _, b := range bought {
		total += b
	}
	r.note("sold out in %s, all buyers done in %s; purchases per buyer min %d max %d",
		fmtDur(sold), fmtDur(allDone), slices.Min(bought), slices.Max(bought))
	vctx, vcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer vcancel()
	left, err1 := getInt(vctx, s, prefix+"stock")
	orders, err2 := getInt(vctx, s, prefix+"orders")
	if r.check(err1 == nil && err2 == nil, "read result: %v %v", err1, err2) {
		r.check(left == 0, "stock is %d, want 0", left)
		r.check(orders == stock, "orders is %d, want %d (oversold or lost)", orders, stock)
	}
	r.check(total == stock, "buyers counted %d purchases, want %d", total, stock)
	return r
}

// lockBuy is one purchase under the variant's lock; buyer w uses lockers[w].
func lockBuy(v lockVariant, lockers []locker, prefix string) buyFunc {
	return func(ctx context.Context, w int) (bool, int64, error) {
		l, s := lockers[w], v.kv(w)
		if err := l.Lock(ctx); err != nil {
			return false, 0, fmt.Errorf("lock: %w", err)
		}
		ok, left, err := func() (bool, int64, error) {
			n, err := getInt(ctx, s, prefix+"stock")
			if err != nil || n <= 0 {
				return false, n, err
			}
			if err := putInt(ctx, s, prefix+"stock", n-1); err != nil {
				return false, n, err
			}
			return true, n - 1, incrCounter(ctx, s, prefix+"orders")
		}()
		if uerr := l.Unlock(ctx); err == nil && uerr != nil {
			err = fmt.Errorf("unlock: %w", uerr)
		}
		return ok, left, err
	}
}

// txnOp is one operation of a /v1/txn body.
type txnOp struct {
	KV txnKV
}

type txnKV struct {
	Verb  string
	Key   string
	Value []byte `json:",omitempty"`
	Index uint64 `json:",omitempty"`
}

// musterAddBuy buys with muster's add extension: one transaction that
// adds -1 to the stock (refused if it would go below zero) and +1 to the
// orders; no read, no retry. A 409 means sold out. Buyer w uses at(w).
func musterAddBuy(at func(w int) *musterClient, prefix string) buyFunc {
	body, _ := json.Marshal([]txnOp{
		{txnKV{Verb: "add", Key: prefix + "stock", Value: []byte("-1")}},
		{txnKV{Verb: "add", Key: prefix + "orders", Value: []byte("1")}},
	})
	return func(ctx context.Context, w int) (bool, int64, error) {
		_, b, err := at(w).do(ctx, http.MethodPut, "/v1/txn", body)
		var se *httpStatusError
		switch {
		case errors.As(err, &se) && se.status == http.StatusConflict:
			return false, 0, nil
		case err != nil:
			return false, 0, err
		}
		var resp struct{ Results []struct{ KV kvEntry } }
		if err := json.Unmarshal(b, &resp); err != nil || len(resp.Results) != 2 {
			return false, 0, fmt.Errorf("PUT /v1/txn: want 2 results, got %q (%v)", b, err)
		}
		left, err := strconv.ParseInt(string(resp.Results[0].KV.Value), 10, 64)
		return true, left, err
	}
}

// musterTxnBuy buys without a lock: read stock and orders in one GET
// ?recurse, then one transaction that checks both ModifyIndexes and writes
// stock-1 and orders+1; a 409 means another buyer won, so read again.
// Buyer w uses at(w). Only Consul's own verbs (check-index, set), so it
// runs on Consul unchanged.
func musterTxnBuy(at func(w int) *musterClient, prefix string, conflicts *atomic.Int64) buyFunc {
	return func(ctx context.Context, w int) (bool, int64, error) {
		c := at(w)
		for {
			es, err := c.list(ctx, prefix)
			if err != nil {
				return false, 0, err
			}
			var st, or *kvEntry
			for i := range es {
				switch es[i].Key {
				case prefix + "stock":
					st = &es[i]
				case prefix + "orders":
					or = &es[i]
				}
			}
			if st == nil || or == nil {
				return false, 0, fmt.Errorf("GET %s?recurse: stock or orders missing: %+v", prefix, es)
			}
			n, err1 := strconv.ParseInt(string(st.Value), 10, 64)
			o, err2 := strconv.ParseInt(string(or.Value), 10, 64)
			if err := errors.Join(err1, err2); err != nil {
				return false, 0, err
			}
			if n <= 0 {
				return false, n, nil
			}
			body, _ := json.Marshal([]txnOp{
				{txnKV{Verb: "check-index", Key: st.Key, Index: st.ModifyIndex}},
				{txnKV{Verb: "check-index", Key: or.Key, Index: or.ModifyIndex}},
				{txnKV{Verb: "set", Key: st.Key, Value: []byte(strconv.FormatInt(n-1, 10))}},
				{txnKV{Verb: "set", Key: or.Key, Value: []byte(strconv.FormatInt(o+1, 10))}},
			})
			_, b, err := c.do(ctx, http.MethodPut, "/v1/txn", body)
			var se *httpStatusError
			switch {
			case errors.As(err, &se) && se.status == http.StatusConflict:
				conflicts.Add(1)
				continue
			case err != nil:
				return false, 0, err
			}
			var resp struct{ Results []json.RawMessage }
			if err := json.Unmarshal(b, &resp); err != nil || len(resp.Results) != 4 {
				return false, 0, fmt.Errorf("PUT /v1/txn: want 4 results, got %q (%v)", b, err)
			}
			return true, n - 1, nil
		}
	}
}
