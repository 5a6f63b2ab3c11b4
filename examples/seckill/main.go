// Command seckill is the course's flash-sale (秒杀) demo ported to Go: several
// console processes, each with many buyer goroutines, all start buying at the
// same moment from one stock kept in a shared store, with or without a lock
// around the read-modify-write.
//
//	seckill --processes 3 --buyers 30 --inventory 10 --lock none
//
// The process you start is the parent: it resets the stock to --inventory
// and the order count to 0 under a fresh prefix (seckill/<run>/ in muster KV,
// or in Redis with --store redis), starts --processes copies of itself (the
// children: the seed's three consoles), and waits for them. Each child runs
// --buyers goroutines that all start at --start-at (the seed's --minute) and
// try to buy once each (or, with --loop, until the stock is gone), printing
// the seed's lines:
//
//	抢购成功*****线程id：07,库存：10,订单数量：1
//	抢购失败
//
// The parent relays the children's lines, prefixed with [pN], adds up their
// results and prints, last, a line of the form
//
//	sold=N orders=N oversold=N
//
// where sold counts the buyers told 抢购成功, orders is the final order count
// in the store and oversold is max(0, sold-inventory): more sold than stocked.
//
// --lock chooses what guards the read-modify-write (see README.md for what
// each one teaches):
//
//	none       nothing: read, check, write back (oversells, as in the seed)
//	local      one sync.Mutex per process (the seed's lock(olock)): correct
//	           with one process, oversells with several
//	redis      blocking Redis lock, sdk/lock/redislock (the seed's AcquireLock)
//	redis-try  one TryLock on it (the seed's Add with expiry): whoever misses
//	           gives up, so some stock can stay unsold
//	muster     muster's session lock with its fair FIFO wait, sdk/lock/musterlock
//	           (the seed's Consul lock)
//	txn        no lock: one conditional transaction per buy, retried on
//	           conflict (muster /v1/txn with two cas ops; a Lua script on Redis)
//	add        no lock, no read, no retry: muster's add verb takes one from
//	           the stock unless that would go below zero (the same script
//	           as txn on Redis)
//
// The exit status is 0 even when the sale oversold (that is the lesson);
// --check makes it 1 then, for scripts. It is 1 if a buyer's try ended in
// an error (a store or lock server that did not answer), after the summary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/musterhq/muster/api"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// envChild marks a child process: its value is the child's number, from 1.
// The parent sets it; a user never does.
const envChild = "SECKILL_CHILD"

// The lock modes of --lock.
const (
	modeNone     = "none"
	modeLocal    = "local"
	modeRedis    = "redis"
	modeRedisTry = "redis-try"
	modeMuster   = "muster"
	modeTxn      = "txn"
	modeAdd      = "add"
)

var modes = []string{modeNone, modeLocal, modeRedis, modeRedisTry, modeMuster, modeTxn, modeAdd}

// The stores of --store.
const (
	storeMuster = "muster"
	storeRedis  = "redis"
)

// config is what the flags say. Parent and children parse the same flags:
// the parent passes its own arguments on, adding the resolved --start-at and
// --run so that every child starts at the same instant on the same keys.
type config struct {
	Processes int           // child processes
	Buyers    int           // buyer goroutines per child
	Inventory int           // initial stock
	Lock      string        // one of modes
	Store     string        // storeMuster or storeRedis
	StartAt   string        // as given; see parseStartAt
	Agent     string        // muster HTTP address
	Redis     string        // Redis address
	Run       string        // key prefix component; empty: the parent picks one
	Loop      bool          // buyers keep buying until the stock is gone
	Hold      time.Duration // time spent holding the lock after a sale (the seed's Thread.Sleep(300))
	Work      time.Duration // time between reading the stock and writing it back
	LockWait  time.Duration // how long a blocking buyer waits for the lock (the seed's timeout)
	Quiet     bool          // no line per buy
	Check     bool          // exit 1 when oversold
}

// parseFlags reads args into a config.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("seckill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{}
	fs.IntVar(&c.Processes, "processes", 3, "child processes (the seed's consoles)")
	fs.IntVar(&c.Buyers, "buyers", 30, "buyer goroutines per process (the seed's Parallel.For(0, 30))")
	fs.IntVar(&c.Inventory, "inventory", 10, "initial stock (the seed's inventoryNum)")
	fs.StringVar(&c.Lock, "lock", modeNone, "guard: none, local, redis, redis-try, muster, txn or add")
	fs.StringVar(&c.Store, "store", storeMuster, "where stock and orders live: muster (KV) or redis")
	fs.StringVar(&c.StartAt, "start-at", "+1s", "when buying starts: +DURATION from now, HH:MM:SS or HH:MM today, or a bare minute MM (the seed's --minute)")
	fs.StringVar(&c.Agent, "agent", api.ResolveAddress(""), "muster agent HTTP address; $MUSTER_HTTP_ADDR sets the default")
	fs.StringVar(&c.Redis, "redis", "127.0.0.1:6379", "Redis address (--store redis, --lock redis and redis-try)")
	fs.StringVar(&c.Run, "run", "", "run id: keys live under seckill/<run>/ and are reset at start (default: a new id per run)")
	fs.BoolVar(&c.Loop, "loop", false, "each buyer keeps buying until the stock is gone (for timing); default: one try each, as in the seed")
	fs.DurationVar(&c.Hold, "hold", 0, "keep the lock this long after each try (the seed's Thread.Sleep(300) in BlockingLock)")
	fs.DurationVar(&c.Work, "work", 0, "pretend to work this long between reading the stock and writing it back")
	fs.DurationVar(&c.LockWait, "lock-wait", 100*time.Second, "how long a blocking buyer waits for the lock (the seed's TimeSpan.FromSeconds(100))")
	fs.BoolVar(&c.Quiet, "quiet", false, "print no line per buy, only the summary")
	fs.BoolVar(&c.Check, "check", false, "exit 1 if more was sold than stocked")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("seckill: unexpected arguments: %q", fs.Args())
	}
	return c, c.validate()
}

// validate reports the first invalid flag.
func (c *config) validate() error {
	switch {
	case c.Processes < 1:
		return fmt.Errorf("seckill: --processes=%d: must be at least 1", c.Processes)
	case c.Buyers < 1:
		return fmt.Errorf("seckill: --buyers=%d: must be at least 1", c.Buyers)
	case c.Inventory < 0:
		return fmt.Errorf("seckill: --inventory=%d: must not be negative", c.Inventory)
	case !slices.Contains(modes, c.Lock):
		return fmt.Errorf("seckill: --lock=%q: want one of %v", c.Lock, modes)
	case c.Store != storeMuster && c.Store != storeRedis:
		return fmt.Errorf("seckill: --store=%q: want muster or redis", c.Store)
	case c.Hold < 0 || c.Work < 0 || c.LockWait <= 0:
		return errors.New("seckill: --hold and --work must not be negative, --lock-wait must be positive")
	}
	if _, err := parseStartAt(c.StartAt, time.Now()); err != nil {
		return err
	}
	return nil
}

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if n := os.Getenv(envChild); n != "" {
		err = runChild(ctx, c, n, stdout)
	} else {
		err = runParent(ctx, c, args, stdout, stderr)
	}
	if errors.Is(err, errOversold) {
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
