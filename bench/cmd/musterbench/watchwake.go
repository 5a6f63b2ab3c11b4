package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const (
	watchKey = "bench/watch/key"
	// watchTimeout bounds one repetition: every watcher must have woken by
	// then.
	watchTimeout = 30 * time.Second
	// watchSettle is the pause between "every watch request is on the
	// wire" and the write, for muster and Consul, whose API cannot confirm
	// that a blocking query is parked. etcd and Redis confirm their
	// watches.
	watchSettle = time.Second
)

// watchWake: -watchers blocking watchers on one key, then one write; the
// latency of a watcher is from just before the write until it has the new
// value. Repeated -watch-reps times. The headline is the worst repetition's
// time until ALL watchers woke. Checks: every watcher saw the new value.
func watchWake(ctx context.Context, e *env) []*result {
	var out []*result
	if e.muster != nil {
		out = append(out, blockingWatch(ctx, e, "muster", e.muster))
	}
	if e.consul != nil {
		out = append(out, blockingWatch(ctx, e, "consul", e.consul))
	}
	if e.etcd != nil {
		out = append(out, etcdWatch(ctx, e))
	}
	if e.redis != nil {
		out = append(out, redisWatch(ctx, e))
	}
	return out
}

func watchValue(rep int) string { return "v" + strconv.Itoa(rep) }

// wakeStats turns the per-repetition wake-up times into the row.
func wakeStats(r *result, t0 []time.Time, woke [][]time.Time) {
	var all latencies
	var worst time.Duration
	var reps []string
	for rep := range woke {
		var repMax time.Duration
		for _, at := range woke[rep] {
			if at.IsZero() {
				continue // a FAIL was recorded for it
			}
			d := at.Sub(t0[rep])
			all = append(all, d)
			repMax = max(repMax, d)
		}
		worst = max(worst, repMax)
		reps = append(reps, fmtDur(repMax))
	}
	r.lat = all.summarize()
	r.value = float64(worst) / float64(time.Millisecond)
	r.note("all %d woken per repetition in: %v", len(woke[0]), reps)
}

// blockingWatch: each watcher is GET /v1/kv/KEY?index=N&wait=60s on its own
// keep-alive connection to c (muster or Consul: the same blocking query);
// system names the row.
func blockingWatch(ctx context.Context, e *env, system string, c *musterClient) *result {
	r := newResult("watch-wake", system, "ms", "wake-up")
	n, reps := e.cfg.watchers, e.cfg.watchReps
	hc := &http.Client{Transport: loopbackTransport(n + 16)}
	defer hc.CloseIdleConnections()
	if _, err := c.put(ctx, watchKey, []byte(watchValue(0)), nil); err != nil {
		r.fail("setup: %v", err)
		return r
	}
	t0 := make([]time.Time, reps)
	woke := make([][]time.Time, reps)
	for rep := range reps {
		woke[rep] = make([]time.Time, n)
		_, idx, err := c.get(ctx, hc, watchKey, nil)
		if err != nil {
			r.fail("rep %d: read index: %v", rep, err)
			break
		}
		want := watchValue(rep + 1)
		rctx, cancel := context.WithTimeout(ctx, watchTimeout+watchSettle)
		var wrote, done sync.WaitGroup
		wrote.Add(n)
		errs := make([]error, n)
		q := url.Values{"index": {strconv.FormatUint(idx, 10)}, "wait": {"60s"}}
		for i := range n {
			done.Go(func() {
				var once sync.Once
				signal := func() { once.Do(wrote.Done) }
				defer signal()
				tctx := httptrace.WithClientTrace(rctx, &httptrace.ClientTrace{
					WroteRequest: func(httptrace.WroteRequestInfo) { signal() },
				})
				ent, got, err := c.get(tctx, hc, watchKey, q)
				at := time.Now()
				switch {
				case err != nil:
					errs[i] = err
				case got <= idx:
					errs[i] = fmt.Errorf("woke with X-Consul-Index %d, not past %d", got, idx)
				case string(ent.Value) != want:
					errs[i] = fmt.Errorf("woke with value %q, want %q", ent.Value, want)
				default:
					woke[rep][i] = at
				}
			})
		}
		wrote.Wait()
		time.Sleep(watchSettle)
		t0[rep] = time.Now()
		_, werr := c.put(ctx, watchKey, []byte(want), nil)
		done.Wait()
		cancel()
		if !r.check(werr == nil, "rep %d: write: %v", rep, werr) {
			break
		}
		if !checkWoke(r, rep, errs) {
			break
		}
	}
	wakeStats(r, t0, woke)
	r.note("settle %s between the last watch request written and the write (a blocking query cannot be confirmed parked)", fmtDur(watchSettle))
	return r
}

// checkWoke records the first watcher errors of one repetition.
func checkWoke(r *result, rep int, errs []error) bool {
	failed := 0
	var first error
	for _, err := range errs {
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	return r.check(failed == 0, "rep %d: %d of %d watchers did not see the write; first: %v", rep, failed, len(errs), first)
}

// etcdWatch: each watcher is a clientv3 Watch (spread over the workers'
// clients), confirmed with WithCreatedNotify before the first write.
func etcdWatch(ctx context.Context, e *env) *result {
	r := newResult("watch-wake", "etcd", "ms", "wake-up")
	n, reps := e.cfg.watchers, e.cfg.watchReps
	ctx, cancel := context.WithTimeout(ctx, time.Duration(reps+1)*watchTimeout)
	defer cancel()
	if _, err := e.etcd.client(0).Put(ctx, watchKey, watchValue(0)); err != nil {
		r.fail("setup: %v", err)
		return r
	}
	t0, woke, errs := make([]time.Time, reps), make([][]time.Time, reps), make([][]error, reps)
	repDone := make([]sync.WaitGroup, reps)
	for rep := range reps {
		woke[rep], errs[rep] = make([]time.Time, n), make([]error, n)
		repDone[rep].Add(n)
	}
	var created sync.WaitGroup
	created.Add(n)
	for i := range n {
		wch := e.etcd.client(i).Watch(ctx, watchKey, clientv3.WithCreatedNotify())
		go func() {
			rep := -1 // -1: waiting for the created notification
			defer func() {
				if rep < 0 {
					created.Done()
					rep = 0
				}
				for ; rep < reps; rep++ {
					if errs[rep][i] == nil {
						errs[rep][i] = fmt.Errorf("watch channel closed: %v", ctx.Err())
					}
					repDone[rep].Done()
				}
			}()
			for resp := range wch {
				if err := resp.Err(); err != nil {
					errs[max(rep, 0)][i] = err
					return
				}
				if resp.Created {
					created.Done()
					rep = 0
					continue
				}
				for _, ev := range resp.Events {
					at := time.Now()
					if rep < 0 || rep >= reps {
						continue
					}
					if got, want := string(ev.Kv.Value), watchValue(rep+1); got != want {
						errs[rep][i] = fmt.Errorf("event value %q, want %q", got, want)
					} else {
						woke[rep][i] = at
					}
					repDone[rep].Done()
					rep++
				}
				if rep >= reps {
					return
				}
			}
		}()
	}
	created.Wait()
	for rep := range reps {
		t0[rep] = time.Now()
		_, err := e.etcd.client(0).Put(ctx, watchKey, watchValue(rep+1))
		repDone[rep].Wait()
		if !r.check(err == nil, "rep %d: write: %v", rep, err) || !checkWoke(r, rep, errs[rep]) {
			cancel()
			break
		}
	}
	wakeStats(r, t0, woke)
	return r
}

// redisWatch: Redis has no watch; the nearest thing is a keyspace
// notification. Each watcher is its own SUBSCRIBE connection to
// __keyspace@0__:KEY (notify-keyspace-events K$), confirmed before the first
// write. A notification carries only the event name ("set"), not the value,
// so a watcher here does less than on muster or etcd (no read).
func redisWatch(ctx context.Context, e *env) *result {
	r := newResult("watch-wake", "redis(keyspace-notify)", "ms", "wake-up")
	c, n, reps := e.redis, e.cfg.watchers, e.cfg.watchReps
	if err := c.ConfigSet(ctx, "notify-keyspace-events", "K$").Err(); err != nil {
		r.fail("setup: %v", err)
		return r
	}
	defer c.ConfigSet(context.Background(), "notify-keyspace-events", "")
	channel := "__keyspace@0__:" + watchKey
	subs := make([]*redis.PubSub, 0, n)
	defer func() {
		for _, s := range subs {
			s.Close()
		}
	}()
	for range n {
		s := c.Subscribe(ctx, channel)
		subs = append(subs, s)
		if _, err := s.ReceiveTimeout(ctx, 10*time.Second); err != nil {
			r.fail("subscribe: %v", err)
			return r
		}
	}
	t0, woke := make([]time.Time, reps), make([][]time.Time, reps)
	for rep := range reps {
		woke[rep] = make([]time.Time, n)
		errs := make([]error, n)
		var done sync.WaitGroup
		for i, s := range subs {
			done.Go(func() {
				for {
					m, err := s.ReceiveTimeout(ctx, watchTimeout)
					if err != nil {
						errs[i] = err
						return
					}
					if msg, ok := m.(*redis.Message); ok {
						if msg.Payload != "set" {
							errs[i] = fmt.Errorf("notification %q, want \"set\"", msg.Payload)
						} else {
							woke[rep][i] = time.Now()
						}
						return
					}
				}
			})
		}
		// The receivers are already subscribed: a message published before
		// a goroutine reads is buffered on its connection.
		t0[rep] = time.Now()
		err := c.Set(ctx, watchKey, watchValue(rep+1), 0).Err()
		done.Wait()
		if !r.check(err == nil, "rep %d: write: %v", rep, err) || !checkWoke(r, rep, errs) {
			break
		}
	}
	wakeStats(r, t0, woke)
	r.note("keyspace notification only (no value read); one SUBSCRIBE connection per watcher")
	return r
}
