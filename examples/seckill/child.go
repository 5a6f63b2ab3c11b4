package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// resultMarker starts the one line of a child's stdout that is for the
// parent, not for people: the child's result as JSON.
const resultMarker = "SECKILL-RESULT "

// childResult is what a child reports to the parent when its buyers are
// done.
type childResult struct {
	Child    int   // the child's number, from 1
	Sold     int   // tries that printed 抢购成功
	Tries    int   // every try, sold or not
	NoLock   int   // tries that missed the lock (redis-try)
	Refused  int   // tries whose fenced write was refused, or that lost the lease
	Errors   int   // tries ended by a store or lock error
	LastSale int64 // ns from the start to the end of the last sale; 0 if none
	// Latencies are the durations of the sales, in ns: from the start of
	// the try (lock wait included) to its end.
	Latencies []int64
}

// runChild is one of the seed's consoles: it waits for the start, runs
// cfg.Buyers buyers at once, prints their lines to stdout, and ends with
// its result line.
func runChild(ctx context.Context, cfg *config, num string, stdout io.Writer) error {
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 {
		return fmt.Errorf("seckill: $%s=%q: want a child number", envChild, num)
	}
	if cfg.Run == "" {
		return errors.New("seckill: a child needs --run from its parent")
	}
	start, err := parseStartAt(cfg.StartAt, time.Now())
	if err != nil {
		return err
	}
	deps, err := openDeps(cfg)
	if err != nil {
		return err
	}
	defer deps.close()

	buyers := make([]*buyer, cfg.Buyers)
	var mu sync.Mutex // the process's lock(olock) for --lock local
	for i := range buyers {
		b := &buyer{i: i, cfg: cfg, store: deps.store, mu: &mu}
		if b.lk, err = deps.newLocker(); err != nil {
			return err
		}
		buyers[i] = b
	}

	out := &lineWriter{w: stdout}
	out.println(fmt.Sprintf("在%d分%d秒正式开启秒杀！", start.Minute(), start.Second()))
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Until(start)):
	}

	res := childResult{Child: n}
	var resMu sync.Mutex // guards res
	var wg sync.WaitGroup
	for _, b := range buyers {
		wg.Go(func() {
			for {
				t0 := time.Now()
				o := b.buy(ctx)
				end := time.Now()
				if !cfg.Quiet {
					out.println(o.line(b.i, cfg.Lock != modeNone && cfg.Lock != modeLocal, threadID()))
				}
				if o.unlockErr != nil {
					out.println(fmt.Sprintf("%d释放锁失败：%v", b.i, o.unlockErr))
				}
				resMu.Lock()
				res.add(o, end.Sub(t0), end.Sub(start))
				resMu.Unlock()
				if !cfg.Loop || o.soldOut() || o.err != nil || ctx.Err() != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	js, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("seckill: result: %w", err)
	}
	out.println(resultMarker + string(js))
	return nil
}

// add counts one try that took took and ended since after the start.
func (r *childResult) add(o outcome, took, since time.Duration) {
	r.Tries++
	switch {
	case o.ok:
		r.Sold++
		r.Latencies = append(r.Latencies, int64(took))
		r.LastSale = max(r.LastSale, int64(since))
	case o.err != nil:
		r.Errors++
	case o.reason == reasonNoLock:
		r.NoLock++
	case o.reason != "":
		r.Refused++
	}
}

// lineWriter writes whole lines from many goroutines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer // guarded by mu
}

func (l *lineWriter) println(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, s)
}
