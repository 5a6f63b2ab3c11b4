package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// lockHandoff: all contenders loop on ONE lock; inside it each reads a
// counter key and writes it back plus one. The rate is acquisitions per
// second; the latency is the wait for the lock. Checks: the counter equals
// the acquisitions, and for muster's fair lock, that no contender got
// markedly more turns than another (FIFO). Consul runs the Consul Go
// client's Lock, which promises no order, so the FIFO check is muster's
// only.
func lockHandoff(ctx context.Context, e *env) []*result {
	var out []*result
	// -cluster leaves out the Consul client's lock: its 5 s retry sleeps
	// measure the client, not the cluster.
	for _, v := range e.lockVariants(!e.cfg.cluster) {
		out = append(out, runHandoff(ctx, e, v))
	}
	return out
}

// slug turns a row name into a key segment: "muster(txn)" -> "muster-txn".
func slug(s string) string {
	return strings.NewReplacer("(", "-", ")", "").Replace(s)
}

func runHandoff(ctx context.Context, e *env, v lockVariant) *result {
	r := newResult("lock-handoff", v.system, "acq/s", "lock wait")
	ctx, cancel := context.WithTimeout(ctx, e.cfg.duration+time.Minute)
	defer cancel()
	lockKey := "bench/handoff/" + slug(v.system) + "/lock"
	counterKey := "bench/handoff/" + slug(v.system) + "/counter"
	if err := putInt(ctx, v.kv(0), counterKey, 0); err != nil {
		r.fail("reset counter: %v", err)
		return r
	}
	lockers, err := newLockers(ctx, e.cfg.clients, v, lockKey)
	if err != nil {
		r.fail("%v", err)
		return r
	}
	defer closeLockers(lockers)

	n := len(lockers)
	counts := make([]int64, n)
	inWindow := make([]int64, n) // acquisitions completed by the deadline
	waits := make([]latencies, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	c0 := e.cpuNow(r.system)
	start := time.Now()
	deadline := start.Add(e.cfg.duration)
	for w, l := range lockers {
		wg.Go(func() {
			s := v.kv(w)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t := time.Now()
				if err := l.Lock(ctx); err != nil {
					errs[w] = fmt.Errorf("contender %d lock: %w", w, err)
					return
				}
				wait := time.Since(t)
				err := incrCounter(ctx, s, counterKey)
				if uerr := l.Unlock(ctx); err == nil && uerr != nil {
					err = fmt.Errorf("unlock: %w", uerr)
				}
				if err != nil {
					errs[w] = fmt.Errorf("contender %d: %w", w, err)
					return
				}
				counts[w]++
				if time.Now().Before(deadline) {
					inWindow[w]++
				}
				waits[w] = append(waits[w], wait)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var total, windowed int64
	var all latencies
	for w := range n {
		total += counts[w]
		windowed += inWindow[w]
		all = append(all, waits[w]...)
		r.check(errs[w] == nil, "%v", errs[w])
	}
	e.cpuSince(r, c0, total)
	// The rate counts the acquisitions done within the duration; those of
	// contenders already waiting at the deadline (the drain) are checked
	// and their waits sampled, but a slow drain (the Consul client's 5 s
	// retry sleep) would otherwise dilute the rate.
	r.value = float64(windowed) / e.cfg.duration.Seconds()
	r.lat = all.summarize()
	lo, hi := slices.Min(counts), slices.Max(counts)
	r.note("%d acquisitions in %s, %d more in the drain (all done after %s); per contender min %d max %d",
		windowed, fmtDur(e.cfg.duration), total-windowed, fmtDur(elapsed), lo, hi)
	if k := v.retries.Load(); k > 0 {
		r.note("%d lock attempts retried (fair-wait timeouts or failed SET NX spins)", k)
	}
	got, err := getInt(ctx, v.kv(0), counterKey)
	if r.check(err == nil, "read counter: %v", err) {
		r.check(got == total, "counter is %d after %d acquisitions: mutual exclusion broken", got, total)
	}
	if v.system == "muster" {
		// FIFO hands the lock round-robin: every contender re-queues behind
		// the others, so turns differ by a handful at most.
		r.check(float64(hi) <= 1.25*float64(lo)+2, "FIFO fairness: one contender got %d turns, another %d", hi, lo)
	}
	return r
}

// incrCounter is the critical section: read, add one, write.
func incrCounter(ctx context.Context, s kv, key string) error {
	n, err := getInt(ctx, s, key)
	if err != nil {
		return err
	}
	return putInt(ctx, s, key, n+1)
}

// newLockers makes one handle per contender; on error it closes those made.
func newLockers(ctx context.Context, n int, v lockVariant, key string) ([]locker, error) {
	var ls []locker
	for w := range n {
		l, err := v.newLocker(ctx, w, key)
		if err != nil {
			closeLockers(ls)
			return nil, fmt.Errorf("contender %d: %w", w, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// closeLockers frees the contenders' sessions, releasing any lock still
// held by one that failed.
func closeLockers(ls []locker) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, l := range ls {
		l.Close(ctx)
	}
}
