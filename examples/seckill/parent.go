package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// errOversold is runParent's error under --check when more was sold than
// stocked; run turns it into exit status 1 without printing it.
var errOversold = errors.New("seckill: oversold")

// runParent resets the run's keys, starts cfg.Processes children with the
// same arguments, relays their lines, and prints the summary. args are the
// parent's own arguments, passed on to the children.
func runParent(ctx context.Context, cfg *config, args []string, stdout, stderr io.Writer) error {
	if cfg.Run == "" {
		cfg.Run = fmt.Sprintf("%s-%04x", time.Now().Format("20060102-150405"), rand.N(0x10000))
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
	if err := deps.store.Reset(ctx, cfg.Inventory); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("seckill: find my own binary to start the children: %w", err)
	}

	out := &lineWriter{w: stdout}
	out.println(fmt.Sprintf("seckill: %d processes x %d buyers, inventory %d, lock %s, store %s, keys under %s, start at %s",
		cfg.Processes, cfg.Buyers, cfg.Inventory, cfg.Lock, cfg.Store, runPrefix(cfg.Run), start.Format("15:04:05.000")))

	// Later flags win: the children get the resolved start and run id.
	childArgs := append(slices.Clone(args), "--start-at="+start.Format(time.RFC3339Nano), "--run="+cfg.Run)
	results := make([]*childResult, cfg.Processes)
	errs := make([]error, cfg.Processes)
	var wg sync.WaitGroup
	for i := range cfg.Processes {
		wg.Go(func() {
			results[i], errs[i] = runOneChild(ctx, exe, childArgs, i+1, out, &lineWriter{w: stderr})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	s, err := summarize(ctx, cfg, deps.store, results)
	if err != nil {
		return err
	}
	s.print(out)
	if s.errors > 0 {
		return fmt.Errorf("seckill: %d of %d tries ended in an error (their lines say why)", s.errors, s.tries)
	}
	if cfg.Check && s.oversold > 0 {
		return errOversold
	}
	return nil
}

// runOneChild runs child num to its end, relaying its lines prefixed with
// [pN], and returns its result line.
func runOneChild(ctx context.Context, exe string, args []string, num int, out, errOut *lineWriter) (*childResult, error) {
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), envChild+"="+strconv.Itoa(num))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("seckill: child %d: %w", num, err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("seckill: child %d: %w", num, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("seckill: start child %d: %w", num, err)
	}
	prefix := fmt.Sprintf("[p%d] ", num)
	var res *childResult
	var resErr error
	var relays sync.WaitGroup
	relays.Go(func() { relay(stderr, prefix, errOut) })
	relays.Go(func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 64<<20) // the result line holds every latency
		for sc.Scan() {
			line, ok := strings.CutPrefix(sc.Text(), resultMarker)
			if !ok {
				out.println(prefix + sc.Text())
				continue
			}
			res = new(childResult)
			if err := json.Unmarshal([]byte(line), res); err != nil {
				resErr = fmt.Errorf("seckill: child %d: bad result line: %w", num, err)
			}
		}
		_, _ = io.Copy(io.Discard, stdout) // after a scan error, let the child finish
	})
	relays.Wait() // the pipes must be drained before Wait closes them
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("seckill: child %d: %w", num, err)
	}
	if resErr == nil && res == nil {
		resErr = fmt.Errorf("seckill: child %d ended without a result line", num)
	}
	return res, resErr
}

// relay copies r to w line by line, each line prefixed.
func relay(r io.Reader, prefix string, w *lineWriter) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		w.println(prefix + sc.Text())
	}
	_, _ = io.Copy(io.Discard, r)
}

// summary is the parent's account of a run.
type summary struct {
	inventory                      int
	sold                           int   // buyers told 抢购成功, all children together
	orders                         int64 // the final order count in the store
	left                           int64 // the final stock in the store
	oversold                       int   // max(0, sold-inventory)
	tries, noLock, refused, errors int
	loop                           bool
	lastSale                       time.Duration
	latencies                      []time.Duration // sorted
}

// summarize adds up the children's results and reads the final counts.
func summarize(ctx context.Context, cfg *config, st store, results []*childResult) (*summary, error) {
	s := &summary{inventory: cfg.Inventory, loop: cfg.Loop}
	for _, r := range results {
		s.sold += r.Sold
		s.tries += r.Tries
		s.noLock += r.NoLock
		s.refused += r.Refused
		s.errors += r.Errors
		s.lastSale = max(s.lastSale, time.Duration(r.LastSale))
		for _, l := range r.Latencies {
			s.latencies = append(s.latencies, time.Duration(l))
		}
	}
	slices.Sort(s.latencies)
	s.oversold = max(0, s.sold-s.inventory)
	var err error
	if s.orders, err = st.Orders(ctx); err != nil {
		return nil, err
	}
	if s.left, err = st.Stock(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// print writes the summary; its last line is the machine-readable one.
func (s *summary) print(out *lineWriter) {
	out.println(fmt.Sprintf("库存总数为：%d，抢购成功：%d，订单数量：%d，剩余库存：%d", s.inventory, s.sold, s.orders, s.left))
	switch {
	case s.oversold > 0:
		out.println(fmt.Sprintf("超卖了 %d 件！库存只有 %d，却卖出了 %d。", s.oversold, s.inventory, s.sold))
	case s.left > 0 && s.sold < s.inventory:
		out.println(fmt.Sprintf("还有 %d 件库存没有卖出去。", s.left))
	}
	out.println(fmt.Sprintf("tries=%d no-lock=%d refused=%d errors=%d left=%d", s.tries, s.noLock, s.refused, s.errors, s.left))
	if s.loop && len(s.latencies) > 0 {
		pct := func(p int) time.Duration { return percentile(s.latencies, p).Round(time.Microsecond) }
		out.println(fmt.Sprintf("sellout=%v buys=%d p50=%v p90=%v p99=%v max=%v",
			s.lastSale.Round(time.Microsecond), len(s.latencies), pct(50), pct(90), pct(99), pct(100)))
	}
	out.println(fmt.Sprintf("sold=%d orders=%d oversold=%d", s.sold, s.orders, s.oversold))
}

// percentile is the nearest-rank p-th percentile of sorted, which is not
// empty.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
