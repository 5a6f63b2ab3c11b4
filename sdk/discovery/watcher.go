package discovery

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/sdk/balance"
	"github.com/musterhq/muster/sdk/internal/backoff"
)

// Watcher keeps one service's healthy instances in memory, fed by one
// blocking query at a time against the agent: the agent answers when the
// service's instances or their health change, or when Options.WaitTime runs
// out, and the Watcher asks again at once. A failed query is retried with
// jittered exponential backoff while the last good list keeps being served.
//
// Get a Watcher from Resolver.Watch; it runs until the Resolver is closed.
// Its methods are safe for concurrent use.
type Watcher struct {
	service string
	health  *consul.Health
	opts    Options
	closing <-chan struct{} // the Resolver's: closed by Close

	snap    atomic.Pointer[snapshot] // nil until the first answer; replaced, never modified
	ready   chan struct{}            // closed at the first answer
	stopped chan struct{}            // closed when run returns

	mu      sync.Mutex
	lastErr error                      // guarded by mu; nil after a successful query
	subs    map[*subscription]struct{} // guarded by mu
}

// snapshot is one published list. Immutable.
type snapshot struct {
	insts []balance.Instance
}

func newWatcher(service string, health *consul.Health, opts Options, closing <-chan struct{}) *Watcher {
	return &Watcher{
		service: service,
		health:  health,
		opts:    opts,
		closing: closing,
		ready:   make(chan struct{}),
		stopped: make(chan struct{}),
		subs:    map[*subscription]struct{}{},
	}
}

// Service returns the name of the watched service.
func (w *Watcher) Service() string { return w.service }

// Instances returns the latest list of the service's healthy instances,
// sorted by ID, without blocking and without a network call. It returns nil
// before the first answer (see Ready) and an empty list when the service
// has no healthy instance. After a failed query it keeps returning the last
// good list.
//
// The slice is shared by every caller until the next change and must not be
// modified, nor the Tags and Meta of its elements.
func (w *Watcher) Instances() []balance.Instance {
	if s := w.snap.Load(); s != nil {
		return s.insts
	}
	return nil
}

// Ready blocks until the Watcher has its first answer, ctx ends, or the
// Resolver is closed. It returns nil once there is an answer, even if
// later queries fail. When ctx ends first, the error wraps ctx.Err() and
// the error of the last failed query, if any; after Close, it wraps
// ErrClosed.
func (w *Watcher) Ready(ctx context.Context) error {
	select {
	case <-w.ready:
		return nil
	default:
	}
	select {
	case <-w.ready:
		return nil
	case <-w.closing:
		return fmt.Errorf("discovery: service %q: %w", w.service, ErrClosed)
	case <-ctx.Done():
		if err := w.Err(); err != nil {
			return fmt.Errorf("discovery: service %q: no answer yet: %w (last query: %w)", w.service, ctx.Err(), err)
		}
		return fmt.Errorf("discovery: service %q: no answer yet: %w", w.service, ctx.Err())
	}
}

// Err returns the error of the last query, or nil if it succeeded (or none
// has finished yet). A non-nil Err with a non-nil Instances means the list
// is the last good one and may be stale.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastErr
}

// Subscribe calls fn with each new list of instances: at once (from another
// goroutine) if the Watcher already has an answer, then after every change.
// Calls are sequential, from one goroutine per subscription, and coalesced:
// a slow fn misses intermediate lists but always gets the latest, and
// never the same list twice in a row. fn must not modify the slice.
//
// cancel ends the subscription and waits for a call of fn in progress to
// return; no call starts after it returns. Do not call cancel from fn. The
// subscription also ends when the Resolver is closed; cancel is still safe
// to call, more than once.
func (w *Watcher) Subscribe(fn func([]balance.Instance)) (cancel func()) {
	s := &subscription{
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	w.mu.Lock()
	w.subs[s] = struct{}{}
	w.mu.Unlock()
	s.notify() // delivers the current list, if there is one
	go s.run(w, fn)
	var once sync.Once
	return func() {
		once.Do(func() {
			w.mu.Lock()
			delete(w.subs, s)
			w.mu.Unlock()
			close(s.stop)
		})
		<-s.exited
	}
}

// subscription is one Subscribe's delivery goroutine.
type subscription struct {
	kick   chan struct{} // capacity 1: "the list may have changed"
	stop   chan struct{} // closed by cancel
	exited chan struct{} // closed when run returns
}

func (s *subscription) notify() {
	select {
	case s.kick <- struct{}{}:
	default: // a kick is pending; run will load the latest list anyway
	}
}

func (s *subscription) run(w *Watcher, fn func([]balance.Instance)) {
	defer close(s.exited)
	var last *snapshot
	for {
		select {
		case <-s.stop:
			return
		case <-w.closing:
			return
		case <-s.kick:
		}
		cur := w.snap.Load()
		if cur == nil || cur == last {
			continue
		}
		select {
		case <-s.stop: // cancelled while kicked: no new call
			return
		default:
		}
		last = cur
		fn(cur.insts)
	}
}

// run is the Watcher's one query loop. It returns when ctx ends.
func (w *Watcher) run(ctx context.Context) {
	defer close(w.stopped)
	var index uint64
	failures := 0
	for ctx.Err() == nil {
		entries, meta, err := w.query(ctx, index)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// The agent may come back with a fresh store whose index is
			// below ours: Consul would then block the whole wait before
			// answering. Ask without an index first, which answers at once.
			index = 0
			failures++
			retry := backoff.Jittered(failures, w.opts.BackoffMin, w.opts.BackoffMax)
			w.setErr(err)
			w.opts.Logger.Warn("discovery: query failed; serving the last good list",
				"service", w.service, "failures", failures, "retry_in", retry, "err", err)
			sleep(ctx, retry)
			continue
		}
		if failures > 0 {
			w.opts.Logger.Info("discovery: query succeeded again", "service", w.service, "after_failures", failures)
			failures = 0
		}
		w.setErr(nil)
		index = nextIndex(index, meta.LastIndex)
		w.publish(toInstances(entries))
	}
}

// query runs one blocking query. The HTTP client used by the agent client
// usually has no timeout, so the query's context bounds it: the wait, the
// agent's jitter (wait/16) and some slack, so that a connection that went
// silent is noticed.
func (w *Watcher) query(ctx context.Context, index uint64) ([]*consul.ServiceEntry, *consul.QueryMeta, error) {
	wait := w.opts.WaitTime
	ctx, cancel := context.WithTimeout(ctx, wait+wait/16+10*time.Second)
	defer cancel()
	q := &consul.QueryOptions{WaitIndex: index, WaitTime: wait, AllowStale: w.opts.AllowStale}
	entries, meta, err := w.health.Service(w.service, w.opts.Tag, true, q.WithContext(ctx))
	if err != nil {
		return nil, nil, fmt.Errorf("discovery: service %q: %w", w.service, err)
	}
	return entries, meta, nil
}

// publish makes insts the current list if it differs from it, and tells
// the subscribers. The first answer is always published.
func (w *Watcher) publish(insts []balance.Instance) {
	if old := w.snap.Load(); old != nil && equalInstances(old.insts, insts) {
		return
	}
	w.snap.Store(&snapshot{insts: insts})
	select {
	case <-w.ready:
	default:
		close(w.ready) // only run publishes, so only it closes ready
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for s := range w.subs {
		s.notify()
	}
}

func (w *Watcher) setErr(err error) {
	w.mu.Lock()
	w.lastErr = err
	w.mu.Unlock()
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
