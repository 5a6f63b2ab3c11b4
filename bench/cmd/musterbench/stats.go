package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// latencies is a set of samples; summarize sorts a copy.
type latencies []time.Duration

type summary struct {
	n                  int
	p50, p90, p99, max time.Duration
}

func (l latencies) summarize() summary {
	if len(l) == 0 {
		return summary{}
	}
	s := slices.Clone(l)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.5) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return summary{n: len(s), p50: at(0.50), p90: at(0.90), p99: at(0.99), max: s[len(s)-1]}
}

// load is what hammer measured.
type load struct {
	ops     int64         // successful operations
	elapsed time.Duration // from start until every worker stopped
	lat     latencies     // one sample per successful operation
	errs    int64
	err     error // the first error, with the worker and op number
}

func (l load) rate() float64 { return float64(l.ops) / l.elapsed.Seconds() }

// opFunc is one operation of one worker; seq counts that worker's calls.
type opFunc func(ctx context.Context, worker, seq int) error

// maxWorkerErrors stops a worker that keeps failing, so a broken server
// ends a workload quickly instead of spinning for its whole duration.
const maxWorkerErrors = 5

// hammer runs op from workers goroutines until d has passed or maxOps
// operations have been started, and times each call. A call gets
// opTimeout; the whole run is bounded by d plus that timeout.
func hammer(ctx context.Context, workers int, d time.Duration, maxOps int64, opTimeout time.Duration, op opFunc) load {
	var (
		started atomic.Int64
		mu      sync.Mutex
		res     load
		wg      sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Go(func() {
			lat := make(latencies, 0, 1024)
			var errs int64
			var firstErr error
			for seq := 0; ctx.Err() == nil && time.Now().Before(deadline) && started.Add(1) <= maxOps; seq++ {
				octx, cancel := context.WithTimeout(ctx, opTimeout)
				t := time.Now()
				err := op(octx, w, seq)
				el := time.Since(t)
				cancel()
				if err != nil {
					errs++
					if firstErr == nil {
						firstErr = fmt.Errorf("worker %d op %d: %w", w, seq, err)
					}
					if errs >= maxWorkerErrors {
						break
					}
					continue
				}
				lat = append(lat, el)
			}
			mu.Lock()
			defer mu.Unlock()
			res.ops += int64(len(lat))
			res.lat = append(res.lat, lat...)
			res.errs += errs
			if res.err == nil {
				res.err = firstErr
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	if ctx.Err() != nil && res.err == nil {
		res.err = ctx.Err()
	}
	return res
}
