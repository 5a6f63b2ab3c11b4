package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// seckill-procs: the course's flash sale as separate processes, the way
// examples/seckill runs it: -procs-stock items, -procs processes of
// -procs-buyers buyers each, every buyer looping until the stock is gone.
// muster (the fair session lock), muster(txn) (no lock: a read, then two
// cas ops, retried on conflict), muster(add) (no lock, no read: one
// transaction of muster's add verb per buy) and redis (sdk/lock/redislock,
// stock in Redis) are runs of the examples/seckill binary with --loop; etcd is this binary's own children
// with client/v3/concurrency's Mutex, stock in etcd. The headline is the
// time from the common start to the last sale; the latency is one purchase,
// lock wait included. Checks: every item sold, orders == items, no oversell,
// no buyer error.

// seckillProcsTimeout bounds one sale.
const seckillProcsTimeout = 2 * time.Minute

func seckillProcs(ctx context.Context, e *env) []*result {
	dir, err := os.MkdirTemp("", "musterbench-seckill-")
	if err != nil {
		r := newResult("seckill-procs", "all", "s", "buy")
		r.fail("temp dir: %v", err)
		return []*result{r}
	}
	defer os.RemoveAll(dir)
	bin := e.cfg.seckill
	needBin := e.muster != nil || e.redis != nil
	if bin == "" && needBin {
		if bin, err = buildSeckill(ctx, dir); err != nil {
			r := newResult("seckill-procs", "all", "s", "buy")
			r.fail("%v", err)
			return []*result{r}
		}
	}
	var out []*result
	if e.muster != nil {
		out = append(out,
			runSeckillBinary(ctx, e, "muster", bin, "--lock", "muster", "--store", "muster", "--agent", e.muster.addr),
			runSeckillBinary(ctx, e, "muster(txn)", bin, "--lock", "txn", "--store", "muster", "--agent", e.muster.addr),
			runSeckillBinary(ctx, e, "muster(add)", bin, "--lock", "add", "--store", "muster", "--agent", e.muster.addr))
	}
	if e.consul != nil {
		r := newResult("seckill-procs", "consul", "s", "buy")
		r.skipped = "n/a: muster only (examples/seckill is built on muster's SDK)"
		out = append(out, r)
	}
	if e.etcd != nil {
		out = append(out, runEtcdSeckill(ctx, e))
	}
	if e.redis != nil {
		out = append(out, runSeckillBinary(ctx, e, "redis", bin, "--lock", "redis", "--store", "redis", "--redis", e.redis.Options().Addr))
	}
	return out
}

// buildSeckill builds ./examples/seckill of the enclosing muster repository.
func buildSeckill(ctx context.Context, dir string) (string, error) {
	root, err := musterRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "seckill")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/seckill")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./examples/seckill in %s: %v\n%s", root, err, out)
	}
	return bin, nil
}

// runSeckillBinary runs the examples/seckill binary once and reads its
// summary lines.
func runSeckillBinary(ctx context.Context, e *env, system, bin string, args ...string) *result {
	r := newResult("seckill-procs", system, "s", "buy")
	r.lowerIsBetter = true
	ctx, cancel := context.WithTimeout(ctx, seckillProcsTimeout)
	defer cancel()
	c := e.cfg
	args = append(args, "--processes", strconv.Itoa(c.procs), "--buyers", strconv.Itoa(c.procsBuyers),
		"--inventory", strconv.Itoa(c.procsStock), "--loop", "--quiet", "--start-at", "+1s")
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		r.fail("seckill %s: %v\n%s%s", strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
		return r
	}
	var sold, orders, oversold, tries, noLock, refused, errs, left, buys int
	var sellout, p50, p90, p99, pmax time.Duration
	for line := range strings.Lines(stdout.String()) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "sold="):
			_, err := fmt.Sscanf(line, "sold=%d orders=%d oversold=%d", &sold, &orders, &oversold)
			r.check(err == nil, "last line %q: %v", line, err)
		case strings.HasPrefix(line, "tries="):
			_, err := fmt.Sscanf(line, "tries=%d no-lock=%d refused=%d errors=%d left=%d", &tries, &noLock, &refused, &errs, &left)
			r.check(err == nil, "stats line %q: %v", line, err)
		case strings.HasPrefix(line, "sellout="):
			var s [5]string
			_, err := fmt.Sscanf(line, "sellout=%s buys=%d p50=%s p90=%s p99=%s max=%s", &s[0], &buys, &s[1], &s[2], &s[3], &s[4])
			if r.check(err == nil, "timing line %q: %v", line, err) {
				ds := []*time.Duration{&sellout, &p50, &p90, &p99, &pmax}
				for i, v := range s {
					*ds[i], err = time.ParseDuration(v)
					r.check(err == nil, "timing line %q: %v", line, err)
				}
			}
		}
	}
	r.value = sellout.Seconds()
	r.lat = summary{n: buys, p50: p50, p90: p90, p99: p99, max: pmax}
	r.note("%d processes x %d buyers; %d tries for %d items", c.procs, c.procsBuyers, tries, c.procsStock)
	r.check(sold == c.procsStock && orders == c.procsStock && left == 0,
		"sold=%d orders=%d left=%d, want %d sold and ordered, 0 left", sold, orders, left, c.procsStock)
	r.check(oversold == 0 && errs == 0 && refused == 0, "oversold=%d errors=%d refused=%d, want 0", oversold, errs, refused)
	return r
}

// Environment of the bench's own etcd seckill children.
const (
	envEtcdSeckillChild = "MUSTERBENCH_ETCD_SECKILL_CHILD" // the child's number, from 1
	etcdSeckillMarker   = "ETCD-SECKILL-RESULT "
)

// etcdSeckillResult is one etcd child's report.
type etcdSeckillResult struct {
	Sold      int
	Errors    []string
	LastSale  int64   // ns from the start to the end of the last sale
	Latencies []int64 // ns, one per sale, lock wait included
}

// runEtcdSeckill resets the stock in etcd and runs -procs children of this
// binary, each with -procs-buyers buyers on concurrency.Mutex.
func runEtcdSeckill(ctx context.Context, e *env) *result {
	r := newResult("seckill-procs", "etcd", "s", "buy")
	r.lowerIsBetter = true
	ctx, cancel := context.WithTimeout(ctx, seckillProcsTimeout)
	defer cancel()
	c := e.cfg
	prefix := "bench/seckill-procs/"
	cli := e.etcd.client(0)
	if _, err := cli.Delete(ctx, prefix, clientv3.WithPrefix()); err != nil {
		r.fail("setup: %v", err)
		return r
	}
	if _, err := cli.Txn(ctx).Then(
		clientv3.OpPut(prefix+"stock", strconv.Itoa(c.procsStock)),
		clientv3.OpPut(prefix+"orders", "0")).Commit(); err != nil {
		r.fail("setup: %v", err)
		return r
	}
	exe, err := os.Executable()
	if err != nil {
		r.fail("setup: %v", err)
		return r
	}
	start := time.Now().Add(time.Second) // the children's start-up
	results := make([]*etcdSeckillResult, c.procs)
	errs := make([]error, c.procs)
	var wg sync.WaitGroup
	for i := range c.procs {
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, exe, "-endpoint", e.etcd.endpoint, "-prefix", prefix,
				"-buyers", strconv.Itoa(c.procsBuyers), "-start", start.Format(time.RFC3339Nano))
			cmd.Env = append(os.Environ(), envEtcdSeckillChild+"="+strconv.Itoa(i+1))
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Errorf("etcd child %d: %v\n%s", i+1, err, stderr.Bytes())
				return
			}
			for line := range strings.Lines(stdout.String()) {
				if js, ok := strings.CutPrefix(strings.TrimSpace(line), etcdSeckillMarker); ok {
					results[i] = new(etcdSeckillResult)
					errs[i] = json.Unmarshal([]byte(js), results[i])
				}
			}
			if errs[i] == nil && results[i] == nil {
				errs[i] = fmt.Errorf("etcd child %d: no result line\n%s", i+1, stderr.Bytes())
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		r.fail("%v", err)
		return r
	}
	var sold int
	var lastSale time.Duration
	var lats latencies
	for _, res := range results {
		sold += res.Sold
		lastSale = max(lastSale, time.Duration(res.LastSale))
		for _, l := range res.Latencies {
			lats = append(lats, time.Duration(l))
		}
		for _, e := range res.Errors {
			r.fail("%s", e)
		}
	}
	r.value = lastSale.Seconds()
	r.lat = lats.summarize()
	r.note("%d processes x %d buyers, one concurrency.Session each", c.procs, c.procsBuyers)
	resp, err := cli.Txn(ctx).Then(clientv3.OpGet(prefix+"stock"), clientv3.OpGet(prefix+"orders")).Commit()
	if !r.check(err == nil, "read result: %v", err) {
		return r
	}
	left, orders := etcdInt(resp, 0), etcdInt(resp, 1)
	r.check(sold == c.procsStock && orders == int64(c.procsStock) && left == 0,
		"sold=%d orders=%d left=%d, want %d sold and ordered, 0 left", sold, orders, left, c.procsStock)
	return r
}

func etcdInt(resp *clientv3.TxnResponse, i int) int64 {
	kvs := resp.Responses[i].GetResponseRange().GetKvs()
	if len(kvs) == 0 {
		return -1
	}
	n, err := strconv.ParseInt(string(kvs[0].Value), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// runEtcdSeckillChild is one etcd child process: its buyers each hold a
// session and a Mutex on the run's lock key, and loop: lock, read stock and
// orders, if any stock is left write both back (only if the lock key is
// still ours: etcd's fencing, Mutex.IsOwner), unlock. It prints one result
// line and returns the exit code.
func runEtcdSeckillChild(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("musterbench etcd seckill child", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("endpoint", "", "etcd client URL")
	prefix := fs.String("prefix", "", "key prefix")
	buyers := fs.Int("buyers", 16, "buyers")
	startAt := fs.String("start", "", "RFC 3339 start")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	start, err := time.Parse(time.RFC3339Nano, *startAt)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	cli, err := newEtcdClient(*endpoint)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), seckillProcsTimeout)
	defer cancel()

	var mu sync.Mutex // guards res
	var res etcdSeckillResult
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		res.Errors = append(res.Errors, err.Error())
	}
	sessions := make([]*concurrency.Session, *buyers)
	for i := range sessions {
		if sessions[i], err = concurrency.NewSession(cli, concurrency.WithTTL(10)); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer sessions[i].Close()
	}
	time.Sleep(time.Until(start))
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Go(func() {
			m := concurrency.NewMutex(s, *prefix+"lock")
			for ctx.Err() == nil {
				t0 := time.Now()
				ok, err := etcdBuy(ctx, cli, m, *prefix)
				if err != nil {
					fail(err)
					return
				}
				if !ok {
					return // sold out
				}
				end := time.Now()
				mu.Lock()
				res.Sold++
				res.Latencies = append(res.Latencies, int64(end.Sub(t0)))
				res.LastSale = max(res.LastSale, int64(end.Sub(start)))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	js, _ := json.Marshal(res)
	fmt.Fprintln(stdout, etcdSeckillMarker+string(js))
	return 0
}

// etcdBuy is one purchase under m. It returns false when sold out.
func etcdBuy(ctx context.Context, cli *clientv3.Client, m *concurrency.Mutex, prefix string) (bought bool, err error) {
	if err := m.Lock(ctx); err != nil {
		return false, fmt.Errorf("lock: %w", err)
	}
	defer func() {
		if uerr := m.Unlock(context.WithoutCancel(ctx)); err == nil && uerr != nil {
			err = fmt.Errorf("unlock: %w", uerr)
		}
	}()
	resp, err := cli.Txn(ctx).Then(clientv3.OpGet(prefix+"stock"), clientv3.OpGet(prefix+"orders")).Commit()
	if err != nil {
		return false, fmt.Errorf("read: %w", err)
	}
	stock, orders := etcdInt(resp, 0), etcdInt(resp, 1)
	if stock < 0 || orders < 0 {
		return false, errors.New("read: stock or orders missing")
	}
	if stock == 0 {
		return false, nil
	}
	w, err := cli.Txn(ctx).If(m.IsOwner()).Then(
		clientv3.OpPut(prefix+"stock", strconv.FormatInt(stock-1, 10)),
		clientv3.OpPut(prefix+"orders", strconv.FormatInt(orders+1, 10))).Commit()
	if err != nil {
		return false, fmt.Errorf("write: %w", err)
	}
	if !w.Succeeded {
		return false, errors.New("write refused: the lock key is no longer ours")
	}
	return true, nil
}

// printSeckillProcsGoals prints the seckill-procs goals next to this run's
// numbers: muster's fair lock at least 10x faster to sell out than etcd's
// Mutex, the lock-free txn at least 2x faster than muster's lock, and p99
// buy latency under 20 ms. Informational, like the other goals.
func printSeckillProcsGoals(w io.Writer, results []*result) {
	row := func(system string) *result {
		for _, r := range results {
			if r.workload == "seckill-procs" && r.system == system && r.skipped == "" && len(r.fails) == 0 && r.value > 0 {
				return r
			}
		}
		return nil
	}
	muster, txn, add, etcd, redis := row("muster"), row("muster(txn)"), row("muster(add)"), row("etcd"), row("redis")
	if muster == nil && txn == nil {
		return
	}
	fmt.Fprintln(w, "\nGOALS for seckill-procs (informational, not correctness checks):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WHAT\tTHIS RUN\tGOAL")
	ratio := func(what string, slow, fast *result, goal float64) {
		if slow == nil || fast == nil {
			fmt.Fprintf(tw, "%s\tnot measured\t≥%gx\n", what, goal)
			return
		}
		x := slow.value / fast.value
		fmt.Fprintf(tw, "%s\t%.2fx (%s vs %s)\t≥%gx: %s\n", what, x, fmtValue(fast.value, "s"), fmtValue(slow.value, "s"), goal, metText(x >= goal))
	}
	ratio("sell-out, etcd Mutex time / muster lock time", etcd, muster, 10)
	ratio("sell-out, muster lock time / muster(txn) time", muster, txn, 2)
	ratio("sell-out, muster lock time / muster(add) time", muster, add, 2)
	for _, r := range []*result{muster, txn, add, redis, etcd} {
		if r != nil {
			fmt.Fprintf(tw, "p99 buy latency, %s\t%s\t<20ms: %s\n", r.system, fmtDur(r.lat.p99), metText(r.lat.p99 < 20*time.Millisecond))
		}
	}
	tw.Flush()
}

func metText(met bool) string {
	if met {
		return "met"
	}
	return "NOT met"
}
