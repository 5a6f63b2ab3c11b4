package checks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Runner runs one check until Stop. Its methods are safe for concurrent use.
type Runner struct {
	spec   Spec         // with defaults and the Interval floor; immutable after Start
	notify Notifier     // immutable; never nil
	logger *slog.Logger // immutable; never nil

	cancel context.CancelFunc // cancels the probe loop; nil for a TTL check
	done   chan struct{}      // closed when the probe loop has returned; nil for a TTL check

	// mu serializes notifications: each is made with mu held and only while
	// stopped is false, which is what lets Stop promise that none is in
	// flight, or will begin, once it returns.
	mu            sync.Mutex
	stopped       bool        // guarded by mu
	ttlTimer      *time.Timer // guarded by mu; TTL checks only
	ttlGen        uint64      // guarded by mu; bumped each time the TTL is re-armed
	ttlLastOutput string      // guarded by mu; output of the last SetTTL
}

// Start validates spec and starts running it; n receives the results (see
// Notifier for the calling contract). Start itself never calls n.
//
// An interval check gets its own goroutine, which probes first after a random
// stagger in [0, Interval) and then Interval after each probe ends. A TTL
// check starts its timer: the caller reports the check's initial status, and
// the runner reports only SetTTL calls and expiries.
//
// Start fails with a *ValidationError for a bad Spec, and with
// ErrScriptChecksDisabled for a script check unless opts.EnableScriptChecks.
func Start(spec Spec, n Notifier, opts Options) (*Runner, error) {
	if n == nil {
		return nil, errors.New("checks: nil Notifier")
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	kind := spec.Type()
	if kind == typeScript && !opts.EnableScriptChecks {
		return nil, fmt.Errorf("%w (check %q)", ErrScriptChecksDisabled, spec.ID)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{
		spec:   withDefaults(spec),
		notify: n,
		logger: logger.With("check", spec.ID, "type", kind),
	}

	if kind == typeTTL {
		r.mu.Lock()
		r.armTTLLocked()
		r.mu.Unlock()
		return r, nil
	}

	minInterval := MinInterval
	if opts.minInterval > 0 {
		minInterval = opts.minInterval
	}
	if r.spec.Interval < minInterval {
		r.logger.Warn("check has interval below minimum",
			"interval", r.spec.Interval, "minimum_interval", minInterval)
		r.spec.Interval = minInterval
	}
	p, err := newProber(r.spec, opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.done = make(chan struct{})
	go r.loop(ctx, p, rand.N(r.spec.Interval))
	return r, nil
}

// Stop stops the runner. It cancels a probe in flight (killing a script),
// waits for the runner's goroutine to return and releases its connections.
// Once Stop returns, the Notifier is not called again for this runner.
//
// Stop is idempotent and may be called from any goroutine but the Notifier's
// call for this runner, where it would deadlock.
func (r *Runner) Stop() {
	r.mu.Lock()
	r.stopped = true
	if r.ttlTimer != nil {
		r.ttlTimer.Stop()
	}
	r.mu.Unlock()

	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
}

// loop runs the probes of an interval check, on the runner's goroutine, until
// ctx is cancelled: first after stagger, then Interval after each probe ends,
// so a slow probe delays the next rather than overlapping it.
func (r *Runner) loop(ctx context.Context, p prober, stagger time.Duration) {
	defer close(r.done)
	defer p.close()

	h := newStatusHandler(r.spec)
	lastReported := ""
	t := time.NewTimer(stagger)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}

		probeCtx, cancel := context.WithTimeout(ctx, r.spec.Timeout)
		status, output := p.probe(probeCtx)
		cancel()
		if ctx.Err() != nil {
			return // Stop interrupted the probe; its result means nothing
		}

		report, ok := h.next(status)
		r.logger.Debug("check result", "status", status, "reported", ok, "output", output)
		if ok {
			if report != lastReported && report != Passing {
				r.logger.Warn("check status changed", "status", report, "output", output)
			}
			lastReported = report
			r.report(report, output)
		}
		t.Reset(untilGrid(time.Now(), r.spec.Interval))
	}
}

// untilGrid returns how long to wait from now for the next probe: the
// interval, stretched to the next multiple of a coarse grid (a tenth of the
// interval, at most 100 ms). Checks that are due within the same grid step
// then wake together, so a thousand checks cost far fewer thread wake-ups
// (on this machine a wake-up is most of an idle check's CPU) while their
// random stagger still spreads them over the interval.
func untilGrid(now time.Time, interval time.Duration) time.Duration {
	grid := min(100*time.Millisecond, interval/10)
	if grid <= 0 {
		return interval
	}
	next := now.Add(interval)
	if rem := next.Sub(next.Truncate(grid)); rem > 0 {
		next = next.Add(grid - rem)
	}
	return next.Sub(now)
}

// report passes a result to the Notifier unless the runner is stopped.
func (r *Runner) report(status, output string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reportLocked(status, output)
}

// reportLocked is report with r.mu held by the caller.
func (r *Runner) reportLocked(status, output string) {
	if r.stopped {
		return
	}
	r.notify.UpdateCheck(r.spec.ID, status, output)
}
