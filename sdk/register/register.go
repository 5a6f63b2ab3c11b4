// Package register keeps this process registered as a service instance with
// its local muster (or Consul) agent for as long as it runs.
//
// Register puts the registration, retrying while the agent is unreachable,
// and then keeps it true in the background:
//
//   - it re-registers when the agent forgets the instance (the agent
//     restarted without persisted state, or someone deregistered it), noticed
//     through a hash-blocking watch of /v1/agent/service/:id rather than by
//     polling;
//   - it heartbeats the instance's TTL checks, reporting what Options.Health
//     says;
//   - it deregisters when the registration's context ends (wire that to
//     SIGTERM with signal.NotifyContext) or Deregister is called.
//
// While the process runs it is the source of truth for its own instance: an
// operator who deregisters it by hand sees it come back. Stop the process,
// or cancel its context, to take it out.
//
// The package uses only the Consul agent API, so it works unchanged against
// a real Consul agent.
package register

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
)

// Defaults for Options.
const (
	DefaultRetryFirst = 200 * time.Millisecond
	DefaultRetryMax   = 5 * time.Second
	DefaultWatchWait  = 5 * time.Minute
	// DefaultDeregisterTimeout bounds the deregistration made when the
	// registration's context ends.
	DefaultDeregisterTimeout = 5 * time.Second
	// attemptTimeout bounds one registration request, so an address that
	// drops packets does not stall a retry for the dial timeout.
	attemptTimeout = 5 * time.Second
	// minBlock is how long a watch that answered with an unchanged hash
	// must have blocked to be taken as a real blocking query.
	minBlock = 50 * time.Millisecond
)

// ErrRefused wraps the agent's answer when it rejects a registration with a
// client error (4xx), or Register's own reason when it finds the
// registration invalid before sending it (no name, a TTL that is not a
// duration): retrying the same registration cannot succeed.
var ErrRefused = errors.New("register: agent refused the registration")

// Options tunes a Registration. The zero value is ready to use.
type Options struct {
	// Logger receives registration events; nil discards them.
	Logger *slog.Logger

	// Health reports the instance's health for its TTL checks: it is called
	// at a third of the shortest check TTL (and at once after a
	// re-registration), from one goroutine, never concurrently; its error
	// (or nil) is sent as the check's status, failing (critical) with the
	// error's text or passing. ctx ends with the registration. nil reports
	// passing. It is not called if the registration has no TTL check.
	Health func(ctx context.Context) error

	// RetryFirst and RetryMax bound the backoff between failed attempts to
	// reach the agent: it doubles from RetryFirst up to RetryMax, with
	// jitter. Zero means DefaultRetryFirst and DefaultRetryMax.
	RetryFirst, RetryMax time.Duration

	// WatchWait is the longest a watch of the instance blocks before it is
	// renewed. Zero means DefaultWatchWait.
	WatchWait time.Duration

	// DeregisterTimeout bounds the deregistration when the context ends.
	// Zero means DefaultDeregisterTimeout.
	DeregisterTimeout time.Duration
}

// Registration is one registered instance, kept registered by a background
// goroutine until its context ends or Deregister is called.
type Registration struct {
	c    *api.Client
	reg  *consulapi.AgentServiceRegistration // private copy, never mutated
	opts Options
	log  *slog.Logger
	ttls []ttlCheck

	kick     chan struct{}      // capacity 1: "beat now" (after a re-registration)
	stop     context.CancelFunc // ends the background loop
	stopped  chan struct{}      // closed when the loop has returned
	done     chan struct{}      // closed after the deregistration was attempted
	once     sync.Once          // elects who deregisters: Deregister or the loop
	deregErr error              // the deregistration's error; read after done
}

// ttlCheck is a TTL check of the registration to heartbeat.
type ttlCheck struct {
	id  string
	ttl time.Duration
}

// Register registers reg with the agent c talks to and keeps it registered
// until ctx ends, when it deregisters it (see the package doc).
//
// It blocks until the first registration succeeds, retrying with backoff
// while the agent is unreachable or failing; it returns an error wrapping
// ErrRefused if the agent rejects the registration (a 4xx answer: a bad
// check, a bad name), or ctx's error if ctx ends first. An empty reg.ID
// defaults to reg.Name, as Consul does. reg is copied; later changes to it
// have no effect (except inside its Proxy, Connect, AI and Locality, and
// its checks' Header maps, which must not be changed).
func Register(ctx context.Context, c *api.Client, reg *consulapi.AgentServiceRegistration, opts Options) (*Registration, error) {
	if reg == nil || reg.Name == "" {
		return nil, fmt.Errorf("%w: the service needs a name", ErrRefused)
	}
	r := &Registration{
		c: c, reg: copyRegistration(reg), opts: opts.withDefaults(),
		kick: make(chan struct{}, 1), stopped: make(chan struct{}), done: make(chan struct{}),
	}
	if r.reg.ID == "" {
		r.reg.ID = r.reg.Name
	}
	r.log = r.opts.Logger.With("service", r.reg.ID)
	ttls, err := ttlChecks(r.reg)
	if err != nil {
		return nil, err
	}
	r.ttls = ttls
	if err := r.registerUntilDone(ctx); err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(ctx)
	r.stop = cancel
	go r.loop(lctx)
	return r, nil
}

// ID is the registered service ID.
func (r *Registration) ID() string { return r.reg.ID }

// Done is closed once the registration has ended: its context ended or
// Deregister was called, and the deregistration was attempted.
func (r *Registration) Done() <-chan struct{} { return r.done }

// Deregister stops the background work and removes the instance from the
// agent, waiting for both. ctx bounds the removal. It is safe to call more
// than once, concurrently, and after the registration's context has ended:
// the instance is removed once, and every call waits for that removal and
// returns its error (for a removal made because the context ended, ctx is
// not used).
func (r *Registration) Deregister(ctx context.Context) error {
	first := false
	r.once.Do(func() { first = true })
	if first {
		r.stop()
		<-r.stopped
		r.deregErr = r.deregister(ctx)
		close(r.done)
	}
	<-r.done
	return r.deregErr
}

// loop keeps the registration until ctx ends: one goroutine watches the
// instance on the agent, another heartbeats TTL checks. When ctx ends for a
// reason other than Deregister, it deregisters.
func (r *Registration) loop(ctx context.Context) {
	defer close(r.stopped)
	var wg sync.WaitGroup
	if len(r.ttls) > 0 {
		wg.Go(func() { r.heartbeat(ctx) })
	}
	r.watch(ctx)
	wg.Wait()
	first := false
	r.once.Do(func() { first = true })
	if first { // the context ended: deregister on the caller's behalf
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.DeregisterTimeout)
		defer cancel()
		if r.deregErr = r.deregister(dctx); r.deregErr != nil {
			r.log.Warn("deregister failed", "err", r.deregErr)
		}
		close(r.done)
	}
}

// watch blocks on the instance's hash at the agent and re-registers it when
// the agent answers that it does not know it. Transport errors (the agent
// restarting) back off and retry. It returns when ctx ends, or when the
// agent refuses a re-registration.
func (r *Registration) watch(ctx context.Context) {
	hash := ""
	b := r.newBackoff()
	for ctx.Err() == nil {
		// The agent answers within the wait plus its jitter (wait/16); the
		// bound notices a connection that went silent.
		qctx, cancel := context.WithTimeout(ctx, r.opts.WatchWait+r.opts.WatchWait/16+attemptTimeout)
		q := (&consulapi.QueryOptions{WaitHash: hash, WaitTime: r.opts.WatchWait}).WithContext(qctx)
		start := time.Now()
		svc, _, err := r.c.Agent().Service(r.reg.ID, q)
		cancel()
		switch {
		case err == nil && (svc.ContentHash != hash || time.Since(start) >= minBlock):
			hash = svc.ContentHash
			b.reset()
			continue
		case err == nil:
			// An agent that does not block on the hash would make this a
			// busy loop: slow down instead.
		case ctx.Err() != nil:
			return
		case isStatus(err, http.StatusNotFound):
			r.log.Warn("the agent lost the registration; registering again")
			hash = ""
			if err := r.registerUntilDone(ctx); err != nil {
				if ctx.Err() == nil {
					r.log.Error("re-registration refused; no longer watching", "err", err)
				}
				return
			}
			r.beatNow() // a fresh TTL check starts critical
			continue
		default:
			r.log.Debug("watch failed; retrying", "err", err)
			hash = ""
		}
		if !b.wait(ctx) {
			return
		}
	}
}

// registerUntilDone puts the registration until the agent accepts or
// refuses it, or ctx ends.
func (r *Registration) registerUntilDone(ctx context.Context) error {
	b := r.newBackoff()
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		// Replace: checks a previous process left under this ID, and no
		// longer declares, must not keep the instance critical.
		opts := consulapi.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(actx)
		err := r.c.Agent().ServiceRegisterOpts(r.reg, opts)
		cancel()
		if err == nil {
			r.log.Info("registered", "name", r.reg.Name, "attempts", attempt)
			return nil
		}
		if permanent(err) {
			return fmt.Errorf("%w: %w", ErrRefused, err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("register: %w", ctx.Err())
		}
		r.log.Warn("agent not reachable; retrying", "err", err, "in", b.next)
		if !b.wait(ctx) {
			return fmt.Errorf("register: %w", ctx.Err())
		}
	}
}

// deregister removes the instance from the agent.
func (r *Registration) deregister(ctx context.Context) error {
	q := (&consulapi.QueryOptions{}).WithContext(ctx)
	err := r.c.Agent().ServiceDeregisterOpts(r.reg.ID, q)
	if err != nil && !isStatus(err, http.StatusNotFound) {
		return fmt.Errorf("register: deregister %q: %w", r.reg.ID, err)
	}
	r.log.Info("deregistered")
	return nil
}

// permanent says whether the agent answered with a client error, which
// retrying the same request cannot fix.
func permanent(err error) bool {
	var se consulapi.StatusError
	return errors.As(err, &se) && se.Code >= 400 && se.Code < 500 &&
		se.Code != http.StatusTooManyRequests && se.Code != http.StatusRequestTimeout
}

// isStatus says whether err is the agent's answer with HTTP status code.
func isStatus(err error, code int) bool {
	var se consulapi.StatusError
	return errors.As(err, &se) && se.Code == code
}

// backoff is exponential backoff with full jitter in [next/2, next].
type backoff struct {
	first, max, next time.Duration
}

func (r *Registration) newBackoff() *backoff {
	return &backoff{first: r.opts.RetryFirst, max: r.opts.RetryMax, next: r.opts.RetryFirst}
}

func (b *backoff) reset() { b.next = b.first }

// wait sleeps for the next backoff step and reports false if ctx ended
// first.
func (b *backoff) wait(ctx context.Context) bool {
	d := b.next/2 + rand.N(b.next/2+1)
	b.next = min(2*b.next, b.max)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RetryFirst <= 0 {
		o.RetryFirst = DefaultRetryFirst
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRetryMax
	}
	o.RetryMax = max(o.RetryMax, o.RetryFirst)
	if o.WatchWait <= 0 {
		o.WatchWait = DefaultWatchWait
	}
	if o.DeregisterTimeout <= 0 {
		o.DeregisterTimeout = DefaultDeregisterTimeout
	}
	return o
}

// copyRegistration copies the parts of reg that a caller might change: the
// struct, its checks, tags, meta, tagged addresses and weights.
func copyRegistration(reg *consulapi.AgentServiceRegistration) *consulapi.AgentServiceRegistration {
	c := *reg
	c.Tags = append([]string(nil), reg.Tags...)
	c.Meta = maps.Clone(reg.Meta)
	c.TaggedAddresses = maps.Clone(reg.TaggedAddresses)
	if reg.Weights != nil {
		w := *reg.Weights
		c.Weights = &w
	}
	if reg.Check != nil {
		ck := *reg.Check
		c.Check = &ck
	}
	c.Checks = make(consulapi.AgentServiceChecks, len(reg.Checks))
	for i, ck := range reg.Checks {
		cc := *ck
		c.Checks[i] = &cc
	}
	return &c
}
