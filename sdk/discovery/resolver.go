package discovery

import (
	"context"
	"errors"
	"sync"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/sdk/balance"
)

// Errors returned by this package. Test with errors.Is.
var (
	// ErrClosed is returned, once Close has been called, by the Watchers of
	// services that had no answer yet (Ready) and by the Resolver for them
	// (Instances); a service that had one keeps serving its last list.
	ErrClosed = errors.New("discovery: resolver closed")
	// ErrNoServiceName is returned for an empty service name.
	ErrNoServiceName = errors.New("discovery: empty service name")
)

// Resolver hands out the healthy instances of services, one Watcher per
// service: the first use of a name starts its Watcher, which keeps the list
// up to date with one blocking query at a time, however many requests read
// it. Resolvers are safe for concurrent use; create one per agent and share
// it.
type Resolver struct {
	client *api.Client
	opts   Options
	ctx    context.Context // ends at Close; every Watcher's queries use it
	cancel context.CancelFunc

	watchers sync.Map // service name → *Watcher; written under mu
	mu       sync.Mutex
	closed   bool           // guarded by mu
	loops    sync.WaitGroup // one per Watcher.run
}

// NewResolver returns a Resolver that asks the agent behind client. Only
// the Consul-compatible health endpoint is used, so client may point at
// Consul as well as muster. It starts nothing until a service is used.
func NewResolver(client *api.Client, opts Options) (*Resolver, error) {
	if client == nil {
		return nil, &OptionError{Field: "client", Value: nil, Err: errors.New("must not be nil")}
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Resolver{client: client, opts: opts.withDefaults(), ctx: ctx, cancel: cancel}, nil
}

// Watch returns the Watcher of service, starting it on first use. Every
// call with the same name returns the same Watcher. After Close, a service
// watched before keeps its Watcher and its last list; any other gets a
// Watcher that never answers: its Ready returns ErrClosed and its
// Instances nil. An empty name gives a Watcher whose queries fail; use
// Instances to have it refused up front.
func (r *Resolver) Watch(service string) *Watcher {
	if w, ok := r.watchers.Load(service); ok {
		return w.(*Watcher)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if w, ok := r.watchers.Load(service); ok {
		return w.(*Watcher)
	}
	w := newWatcher(service, r.client.Health(), r.opts, r.ctx.Done())
	if r.closed {
		close(w.stopped)
		return w
	}
	r.watchers.Store(service, w)
	r.loops.Go(func() { w.run(r.ctx) })
	return w
}

// Instances returns the healthy instances of service. The first call for a
// service blocks until its Watcher's first answer or until ctx ends (the
// error then wraps ctx.Err()); later calls return the in-memory list at
// once, without a network call, even while the agent is unreachable. An
// empty list means the service has no healthy instance. The slice is
// shared and must not be modified.
func (r *Resolver) Instances(ctx context.Context, service string) ([]balance.Instance, error) {
	if service == "" {
		return nil, ErrNoServiceName
	}
	w := r.Watch(service)
	if err := w.Ready(ctx); err != nil {
		return nil, err
	}
	return w.Instances(), nil
}

// Close stops every Watcher, cancelling the queries in flight, and waits
// for them to return. Watchers keep their last lists. Close always returns
// nil; calls after the first do nothing.
func (r *Resolver) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.loops.Wait()
	return nil
}
