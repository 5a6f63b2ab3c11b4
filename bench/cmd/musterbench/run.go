package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// config is the parsed command line.
type config struct {
	systems   []string
	workloads []string
	duration  time.Duration // per workload and system, for the timed workloads
	clients   int
	maxOps    int64 // cap on operations per timed run
	muster    string
	// consul is the Consul binary run as the "consul" system ("" when
	// Consul is not selected); consulWhy says why it is or is not in the
	// run, for the line on stderr.
	consul    string
	consulWhy string
	watchers  int
	watchReps int
	stock     int
	cpuWindow time.Duration // check-cpu's measurement window
	// seckill-procs: the examples/seckill binary ("" builds it), and the
	// sale's processes, buyers per process and items.
	seckill                        string
	procs, procsBuyers, procsStock int
	keep                           bool
	// cluster runs three-server clusters instead of single servers (see
	// cluster.go); failoverRounds and clientRounds size its two failure
	// workloads.
	cluster        bool
	failoverRounds int
	clientRounds   int
	// raftLogStore is the muster servers' raft_logstore.backend with
	// -cluster: "" (muster's default), wal or boltdb.
	raftLogStore string
}

var (
	// allSystems is every system of the single-server mode, in table
	// order; defaultSystems those run without -systems (plus "consul" when
	// a Consul binary is given or on $PATH, see resolveConsul).
	allSystems     = []string{"muster", "consul", "etcd", "redis"}
	defaultSystems = []string{"muster", "etcd", "redis"}
	allWorkloads   = []string{"kv-put", "kv-get", "kv-cas", "lock-handoff", "seckill", "watch-wake",
		"reg-dereg", "health-query", "check-cpu", "seckill-procs"}
	// clusterSystems and clusterWorkloads are what -cluster can run: the
	// workloads that keep their meaning against three durable servers,
	// and the two failure workloads that only exist there.
	clusterSystems   = []string{"muster", "etcd"}
	clusterWorkloads = []string{"kv-put", "kv-get", "lock-handoff", "seckill", "failover", "client-failure"}
)

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("musterbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	systems := fs.String("systems", strings.Join(defaultSystems, ","), "systems to run, comma-separated: "+strings.Join(allSystems, ",")+
		"; the default adds consul when -consul is given or consul is on $PATH (-cluster: "+strings.Join(clusterSystems, ",")+")")
	workloads := fs.String("workloads", strings.Join(allWorkloads, ","), "workloads to run, comma-separated (-cluster: "+strings.Join(clusterWorkloads, ",")+")")
	fs.BoolVar(&c.cluster, "cluster", false, "run three-server durable clusters of muster and etcd instead of single servers")
	fs.StringVar(&c.raftLogStore, "raft-logstore", "", "muster servers' raft_logstore.backend with -cluster: wal or boltdb (default: muster's, wal)")
	fs.IntVar(&c.failoverRounds, "failover-rounds", 20, "leader kills in the failover workload (-cluster)")
	fs.IntVar(&c.clientRounds, "client-failure-rounds", 5, "client agents killed in the client-failure workload (-cluster)")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "duration of each timed workload on each system")
	fs.IntVar(&c.clients, "clients", 16, "concurrent clients (workers, lock contenders, buyers)")
	fs.Int64Var(&c.maxOps, "max-ops", 2_000_000, "cap on operations in one timed run")
	fs.StringVar(&c.muster, "muster", "", "muster binary (default: go build ../cmd/muster into a temp dir)")
	fs.StringVar(&c.consul, "consul", "", "Consul binary for the consul system (default: consul on $PATH; scripts/build-consul.sh builds one)")
	fs.IntVar(&c.watchers, "watchers", 1000, "blocking watchers in watch-wake")
	fs.IntVar(&c.watchReps, "watch-reps", 5, "writes (repetitions) in watch-wake")
	fs.IntVar(&c.stock, "stock", 100, "items for sale in seckill")
	fs.StringVar(&c.seckill, "seckill", "", "examples/seckill binary for seckill-procs (default: go build ../examples/seckill into a temp dir)")
	fs.IntVar(&c.procs, "procs", 4, "seckill-procs: buyer processes")
	fs.IntVar(&c.procsBuyers, "procs-buyers", 16, "seckill-procs: buyers per process")
	fs.IntVar(&c.procsStock, "procs-stock", 1000, "seckill-procs: items for sale")
	fs.DurationVar(&c.cpuWindow, "cpu-window", 30*time.Second, "window over which check-cpu measures muster's CPU")
	fs.BoolVar(&c.keep, "keep", false, "keep the temp dir (server logs, etcd data)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	// -cluster has its own lists; an unset -systems or -workloads means
	// all of the mode's.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	knownSystems, knownWorkloads, mode := allSystems, allWorkloads, " without -cluster"
	if c.cluster {
		knownSystems, knownWorkloads, mode = clusterSystems, clusterWorkloads, " with -cluster"
		if !set["systems"] {
			*systems = strings.Join(clusterSystems, ",")
		}
		if !set["workloads"] {
			*workloads = strings.Join(clusterWorkloads, ",")
		}
	}
	var err error
	if c.systems, err = parseList("systems", *systems, knownSystems); err != nil {
		return c, fmt.Errorf("%w%s", err, mode)
	}
	if c.systems, err = resolveConsul(&c, set["systems"], set["consul"]); err != nil {
		return c, err
	}
	fmt.Fprintln(stderr, c.consulWhy)
	if c.workloads, err = parseList("workloads", *workloads, knownWorkloads); err != nil {
		return c, fmt.Errorf("%w%s", err, mode)
	}
	switch {
	case c.duration <= 0 || c.duration > 5*time.Minute:
		return c, fmt.Errorf("-duration %v: want (0, 5m]", c.duration)
	case c.clients < 1 || c.clients > 512:
		return c, fmt.Errorf("-clients %d: want 1..512", c.clients)
	case c.watchers < 1 || c.watchers > 5000:
		return c, fmt.Errorf("-watchers %d: want 1..5000", c.watchers)
	case c.watchReps < 1 || c.watchReps > 100:
		return c, fmt.Errorf("-watch-reps %d: want 1..100", c.watchReps)
	case c.stock < 1 || c.stock > 100000:
		return c, fmt.Errorf("-stock %d: want 1..100000", c.stock)
	case c.procs < 1 || c.procs > 32 || c.procsBuyers < 1 || c.procsBuyers > 256:
		return c, fmt.Errorf("-procs %d -procs-buyers %d: want 1..32 and 1..256", c.procs, c.procsBuyers)
	case c.procsStock < 1 || c.procsStock > 100000:
		return c, fmt.Errorf("-procs-stock %d: want 1..100000", c.procsStock)
	case c.cpuWindow < time.Second || c.cpuWindow > 10*time.Minute:
		return c, fmt.Errorf("-cpu-window %v: want [1s, 10m]", c.cpuWindow)
	case c.maxOps < 1:
		return c, fmt.Errorf("-max-ops %d: want >= 1", c.maxOps)
	case c.failoverRounds < 1 || c.failoverRounds > 200:
		return c, fmt.Errorf("-failover-rounds %d: want 1..200", c.failoverRounds)
	case c.clientRounds < 1 || c.clientRounds > 50:
		return c, fmt.Errorf("-client-failure-rounds %d: want 1..50", c.clientRounds)
	}
	return c, nil
}

// parseList splits a comma list, refusing names not in known, and keeps
// known's order.
func parseList(name, v string, known []string) ([]string, error) {
	want := map[string]bool{}
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(known, s) {
			return nil, fmt.Errorf("-%s: unknown %q (known: %s)", name, s, strings.Join(known, ","))
		}
		want[s] = true
	}
	var out []string
	for _, k := range known {
		if want[k] {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-%s: empty", name)
	}
	return out, nil
}

// env is what the workloads run against: the started servers' clients (nil
// when a system is not selected) and the config.
type env struct {
	cfg    config
	muster *musterClient // the dev agent; with -cluster server s1
	// consul is Consul's dev agent, driven through the same client as
	// muster (Consul speaks the same HTTP API); nil unless selected, and
	// always nil with -cluster.
	consul *musterClient
	// floor is the net/http floor server of kv-put and kv-get (floor.go), started
	// with muster.
	floor        *musterClient
	etcd         *etcdPeer // with -cluster worker w's client talks to member w%3 only
	redis        *redis.Client
	redisVersion string
	// mc and ec are the clusters of -cluster, nil otherwise.
	mc       *musterCluster
	ec       *etcdCluster
	progress io.Writer
	// nodes are the server processes, stopped in reverse order at the end;
	// closers close clients first.
	nodes   []*node
	closers []func()
}

// musterAt is the muster client of worker w: with -cluster, server w%3's
// (the placement etcd's clients follow), else the dev agent's.
func (e *env) musterAt(w int) *musterClient {
	if e.mc != nil {
		return e.mc.servers[w%len(e.mc.servers)].c
	}
	return e.muster
}

// shutdown closes the clients, then stops every server still running.
func (e *env) shutdown(stderr io.Writer) {
	for _, f := range slices.Backward(e.closers) {
		f()
	}
	for _, n := range slices.Backward(e.nodes) {
		if n.p == nil || n.killed {
			continue
		}
		if err := n.p.stop(); err != nil {
			fmt.Fprintln(stderr, "stop:", err)
		}
	}
}

// startSingle starts one server of each selected system (the default mode)
// and returns their version lines.
func (e *env) startSingle(ctx context.Context, dir string) ([]string, error) {
	var versions []string
	for _, s := range e.cfg.systems {
		fmt.Fprintf(e.progress, "starting %s...\n", s)
		switch s {
		case "muster":
			p, c, err := startMuster(ctx, dir, e.cfg.muster)
			if err != nil {
				return nil, err
			}
			e.nodes, e.muster = append(e.nodes, &node{name: p.name, p: p}), c
			versions = append(versions, c.version())
			if slices.Contains(e.cfg.workloads, "kv-put") || slices.Contains(e.cfg.workloads, "kv-get") {
				fp, fc, err := startFloor(ctx, dir)
				if err != nil {
					return nil, fmt.Errorf("floor server: %w", err)
				}
				e.nodes, e.floor = append(e.nodes, &node{name: fp.name, p: fp}), fc
			}
		case "consul":
			p, c, err := startConsul(ctx, dir, e.cfg.consul)
			if err != nil {
				return nil, err
			}
			e.nodes, e.consul = append(e.nodes, &node{name: p.name, p: p}), c
			versions = append(versions, c.version()+" (dev agent, in memory)")
		case "etcd":
			p, c, err := startEtcd(ctx, dir, e.cfg.clients)
			if err != nil {
				return nil, err
			}
			e.nodes, e.etcd = append(e.nodes, &node{name: p.name, p: p}), c
			e.closers = append(e.closers, c.close)
			versions = append(versions, c.version+" (fsync on)")
		case "redis":
			p, c, v, err := startRedis(ctx, dir, e.cfg.clients+8)
			if err != nil {
				return nil, err
			}
			e.nodes, e.redis = append(e.nodes, &node{name: p.name, p: p}), c
			e.closers = append(e.closers, func() { c.Close() })
			versions = append(versions, v+" (no persistence)")
		}
	}
	return versions, nil
}

// workloadFunc runs one workload on every selected system.
type workloadFunc func(ctx context.Context, e *env) []*result

var workloadFuncs = map[string]workloadFunc{
	"kv-put":        kvPut,
	"kv-get":        kvGet,
	"kv-cas":        kvCAS,
	"lock-handoff":  lockHandoff,
	"seckill":       seckill,
	"watch-wake":    watchWake,
	"reg-dereg":     regDereg,
	"health-query":  healthQuery,
	"check-cpu":     checkCPU,
	"seckill-procs": seckillProcs,
	// -cluster only
	"failover":       failover,
	"client-failure": clientFailure,
}

// run is the whole program: start servers, run workloads, print, stop. It
// returns the exit code: 0, 1 if a check failed, 2 on a setup error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0, nil
	}
	if err != nil {
		return 2, err
	}
	dir, err := os.MkdirTemp("", "musterbench-")
	if err != nil {
		return 2, err
	}
	if cfg.keep {
		fmt.Fprintf(stderr, "temp dir (kept): %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	e := &env{cfg: cfg, progress: stderr}
	defer e.shutdown(stderr)
	start := e.startSingle
	if cfg.cluster {
		start = e.startClusters
	}
	versions, err := start(ctx, dir)
	if err != nil {
		return 2, err
	}
	versions = append([]string{"go " + runtime.Version() + " (bench client)"}, versions...)

	started := time.Now()
	var results []*result
	for _, w := range cfg.workloads {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(stderr, "== %s\n", w)
		rs := workloadFuncs[w](ctx, e)
		for _, r := range rs {
			if r.skipped != "" {
				fmt.Fprintf(stderr, "   %-26s %s\n", r.system, r.skipped)
				continue
			}
			fmt.Fprintf(stderr, "   %-26s %s %s\n", r.system, fmtValue(r.value, r.unit), strings.Join(r.fails, "; "))
		}
		results = append(results, rs...)
	}
	for _, n := range e.nodes {
		if err := n.crashed(); err != nil {
			r := newResult("servers", n.name, "", "")
			r.fail("%v", err)
			results = append(results, r)
		}
	}

	fmt.Fprintf(stdout, "musterbench %s  (%d cores, GOMAXPROCS %d, kernel %s)\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), runtime.GOMAXPROCS(0), kernel())
	fmt.Fprintf(stdout, "servers: %s\n", strings.Join(versions, "; "))
	if cfg.cluster {
		fmt.Fprintf(stdout, "flags: -cluster -duration=%v -clients=%d -stock=%d -failover-rounds=%d -client-failure-rounds=%d; all traffic on 127.0.0.1; total run %s\n\n",
			cfg.duration, cfg.clients, cfg.stock, cfg.failoverRounds, cfg.clientRounds, fmtDur(time.Since(started)))
		printResults(stdout, results, true)
		if slices.Contains(cfg.systems, "muster") {
			printClusterGoals(stdout, results)
		}
	} else {
		fmt.Fprintf(stdout, "flags: -duration=%v -clients=%d -watchers=%d -watch-reps=%d -stock=%d -cpu-window=%v; all traffic on 127.0.0.1; total run %s\n\n",
			cfg.duration, cfg.clients, cfg.watchers, cfg.watchReps, cfg.stock, cfg.cpuWindow, fmtDur(time.Since(started)))
		printResults(stdout, results, false)
		printCPU(stdout, results)
		consulInRun := slices.Contains(cfg.systems, "consul")
		if slices.Contains(cfg.systems, "muster") && consulInRun {
			printConsulGoals(stdout, results)
		}
		if slices.Contains(cfg.systems, "muster") {
			printReferences(stdout, results, consulInRun)
		}
		if slices.Contains(cfg.workloads, "seckill-procs") {
			printSeckillProcsGoals(stdout, results)
		}
	}
	if ctx.Err() != nil {
		return 2, ctx.Err()
	}
	for _, r := range results {
		if len(r.fails) > 0 {
			return 1, nil
		}
	}
	return 0, nil
}

func kernel() string {
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return runtime.GOOS
}
