package cli

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
)

const lockHelp = `
Usage: muster lock [options] PREFIX CHILD...

  Acquires a lock or semaphore at PREFIX and runs CHILD while holding it. If
  the lock is lost, the child is sent SIGTERM and, after a grace period,
  SIGKILL. On SIGINT or SIGTERM the child is stopped the same way and the
  lock released.

  With -n=1 (the default) the lock is muster's fair lock on PREFIX/.lock:
  waiters are served in arrival order, and the child gets the acquisition's
  fencing token in $MUSTER_LOCK_FENCING_TOKEN (pass it to whatever the lock
  guards, so that it can refuse writes from a holder that has since lost the
  lock). A higher -n switches to Consul's semaphore under PREFIX, allowing
  that many holders at once. The child also gets CONSUL_LOCK_HELD=true.
`

// Consul's lock timings.
const (
	// lockKillGracePeriod is how long a child has between SIGTERM and
	// SIGKILL: time to clean up, weighed against the risk of it acting as a
	// holder after the lock is gone.
	lockKillGracePeriod = 5 * time.Second
	// defaultMonitorRetry is how many errors in a row watching a held lock
	// are tolerated before the lock is declared lost.
	defaultMonitorRetry = 3
	// defaultMonitorRetryTime is the pause between those retries.
	defaultMonitorRetryTime = time.Second
	// lockSessionTTL is the lock session's TTL; it is renewed every half TTL.
	lockSessionTTL = consulapi.DefaultLockSessionTTL
)

// envFencingToken names the child's environment variable holding the
// fencing token of the fair lock's acquisition.
const envFencingToken = "MUSTER_LOCK_FENCING_TOKEN"

// errLockInUse means cleanup left the lock's keys alone because another
// session holds or waits on them.
var errLockInUse = errors.New("cli: lock in use")

// locker holds PREFIX while the child runs: fairLock when -n=1,
// semaphoreLock otherwise. runLock calls acquire once, and release and
// cleanup once each after a successful acquire, all from one goroutine.
type locker interface {
	// acquire blocks until the lock is held, ctx ends or -timeout passes;
	// in the last two cases it returns a nil hold and a nil error, having
	// cleaned up after itself.
	acquire(ctx context.Context) (*hold, error)
	// release gives up the lock and destroys its session.
	release() error
	// cleanup deletes the lock's keys unless another session uses them,
	// in which case it returns errLockInUse.
	cleanup() error
}

// hold is a held lock.
type hold struct {
	lost <-chan struct{} // closed if the lock is lost while held; never nil
	env  []string        // extra KEY=value environment for the child
}

// lockFlags are `muster lock`'s flags.
type lockFlags struct {
	http          httpFlags
	limit         int
	timeout       time.Duration
	name          string
	childExitCode bool
	shell         bool
	passStdin     bool
	verbose       bool
	monitorRetry  int
}

// runLock is `muster lock`, Consul's `consul lock`; holdAndRun documents
// its exit codes.
func runLock(ctx context.Context, ui *UI, args []string) int {
	var f lockFlags
	fs := newFlagSet("lock", lockHelp, ui)
	fs.IntVar(&f.limit, "n", 1, "Number of concurrent lock holders; above 1 switches from a lock to a semaphore.")
	fs.DurationVar(&f.timeout, "timeout", 0, "Maximum time to wait to acquire the lock, such as \"1s\"; 0 waits forever.")
	fs.DurationVar(&f.timeout, "try", 0, "DEPRECATED. Use -timeout instead.")
	fs.StringVar(&f.name, "name", "", "Name of the lock session; by default made from the child command and prefix.")
	fs.BoolVar(&f.childExitCode, "child-exit-code", false, "Exit 2 if the child exited with an error (otherwise the child's failure does not change the exit code).")
	fs.BoolVar(&f.shell, "shell", true, "Run the child with $SHELL -c (default /bin/sh); false runs CHILD... directly.")
	fs.BoolVar(&f.passStdin, "pass-stdin", false, "Pass stdin to the child process.")
	fs.BoolVar(&f.verbose, "verbose", false, "Enable verbose (debugging) output.")
	fs.IntVar(&f.monitorRetry, "monitor-retry", defaultMonitorRetry, "Errors in a row tolerated while watching the held lock, 1s apart, before it counts as lost.")
	f.http.addClientFlags(fs)
	f.http.addServerFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	prefix, child, ok := f.validate(ui, fs.Args())
	if !ok {
		return 1
	}
	c, ok := f.http.connect(ui)
	if !ok {
		return 1
	}
	if _, err := c.Agent().NodeName(); err != nil {
		ui.error("Error querying muster agent: %s", err)
		return 1
	}
	lk, err := f.newLocker(ui, c, prefix, child)
	if err != nil {
		ui.error("Lock setup failed: %s", err)
		return 1
	}
	return f.holdAndRun(ctx, ui, lk, child)
}

// validate checks the flags and splits the arguments into PREFIX and CHILD,
// reporting problems on ui with Consul's messages.
func (f *lockFlags) validate(ui *UI, args []string) (prefix string, child []string, ok bool) {
	switch {
	case f.limit <= 0:
		ui.error("Lock holder limit must be positive")
	case len(args) < 2:
		ui.error("Key prefix and child command must be specified")
	case f.timeout < 0:
		ui.error("Timeout must be positive")
	case f.monitorRetry < 0:
		ui.error("Number for 'monitor-retry' must be >= 0")
	default:
		return strings.TrimPrefix(args[0], "/"), args[1:], true
	}
	return "", nil, false
}

// newLocker sets up the lock the flags ask for, without taking it.
func (f *lockFlags) newLocker(ui *UI, c *api.Client, prefix string, child []string) (locker, error) {
	name := f.name
	if name == "" {
		name = fmt.Sprintf("muster lock for '%s' at '%s'", strings.Join(child, " "), prefix)
	}
	if f.limit > 1 {
		f.verbosef(ui, "Setting up semaphore (limit %d) at prefix: %s", f.limit, prefix)
		return newSemaphoreLock(c, prefix, name, f.limit, f.timeout, f.monitorRetry)
	}
	// Consul's lock also lives at the semaphore's key, so that a lock and a
	// semaphore on one prefix conflict instead of both being granted.
	key := path.Join(prefix, consulapi.DefaultSemaphoreKey)
	f.verbosef(ui, "Setting up lock at path: %s", key)
	return &fairLock{
		c: c, key: key, name: name, timeout: f.timeout,
		retries: f.monitorRetry, retryWait: defaultMonitorRetryTime,
	}, nil
}

// holdAndRun takes the lock, runs the child under it, then releases and
// cleans up, and returns the exit code: 1 if the lock could not be taken,
// released or cleaned up, or was lost while the child ran; else 0, or 2 for
// a failed child with -child-exit-code, as Consul's lock.
//
// Deviation from Consul, which exits 0 (or the child's 2) when the lock is
// lost: muster exits 1, so a script can tell its child was cut short.
func (f *lockFlags) holdAndRun(ctx context.Context, ui *UI, lk locker, child []string) int {
	f.verbosef(ui, "Attempting lock acquisition")
	h, err := lk.acquire(ctx)
	if err != nil {
		ui.error("Lock acquisition failed: %s", err)
		return 1
	}
	if h == nil {
		ui.error("Shutdown triggered or timeout during lock acquisition")
		return 1
	}
	code := 0
	if ctx.Err() != nil {
		ui.error("Shutdown triggered during lock acquisition")
	} else {
		code = f.supervise(ctx, ui, h, child)
	}
	if err := lk.release(); err != nil {
		ui.error("Lock release failed: %s", err)
		return 1
	}
	switch err := lk.cleanup(); {
	case errors.Is(err, errLockInUse):
		f.verbosef(ui, "Cleanup aborted, lock in use")
	case err != nil:
		ui.error("Lock cleanup failed: %s", err)
		return 1
	default:
		f.verbosef(ui, "Cleanup succeeded")
	}
	return code
}

// supervise runs the child until it exits, ctx ends or the lock is lost,
// stopping the child in the last two cases, and returns the exit code
// holdAndRun documents.
func (f *lockFlags) supervise(ctx context.Context, ui *UI, h *hold, args []string) int {
	f.verbosef(ui, "Starting handler")
	ch, err := startChild(ui, args, f.shell, f.passStdin, h.env)
	if err != nil {
		ui.error("Error starting handler: %s", err)
		return f.failedChildCode()
	}
	select {
	case err := <-ch.done:
		if err != nil {
			ui.error("Error running handler: %s", err)
			return f.failedChildCode()
		}
		f.verbosef(ui, "Child terminated, releasing lock")
		return 0
	case <-ctx.Done():
		f.verbosef(ui, "Shutdown triggered, killing child")
		f.stop(ui, ch)
		return 0
	case <-h.lost:
		ui.error("Lock lost, killing child")
		f.stop(ui, ch)
		return 1
	}
}

// stop terminates the child, reporting a failure to signal it.
func (f *lockFlags) stop(ui *UI, ch *child) {
	f.verbosef(ui, "Terminating child pid %d", ch.pid())
	if err := ch.stop(lockKillGracePeriod); err != nil {
		ui.error("%s", err)
	}
}

// failedChildCode is the exit code after the child failed: 2 with
// -child-exit-code, else 0, as Consul's lock.
func (f *lockFlags) failedChildCode() int {
	if f.childExitCode {
		return 2
	}
	return 0
}

func (f *lockFlags) verbosef(ui *UI, format string, args ...any) {
	if f.verbose {
		ui.info(format, args...)
	}
}
