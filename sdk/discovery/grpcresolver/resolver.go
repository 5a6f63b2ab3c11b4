package grpcresolver

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/attributes"
	"google.golang.org/grpc/resolver"

	"github.com/musterhq/muster/sdk/balance"
	"github.com/musterhq/muster/sdk/discovery"
)

// Scheme is the target scheme the resolver handles: "muster:///<service>".
const Scheme = "muster"

// NewBuilder returns a resolver.Builder for Scheme that resolves services
// through r. Pass it to grpc.NewClient with grpc.WithResolvers, or register
// it for the whole process with Register. Closing r stops the updates of
// every connection built on it; the connections keep their last addresses.
func NewBuilder(r *discovery.Resolver) resolver.Builder {
	return &builder{r: r}
}

// Register registers NewBuilder(r) in gRPC's global resolver registry, so
// that every grpc.NewClient of the process resolves "muster:///..." through
// r. Like resolver.Register, call it at initialisation time, before any
// client is created; a later Register replaces the builder for new clients.
func Register(r *discovery.Resolver) {
	resolver.Register(NewBuilder(r))
}

type builder struct {
	r *discovery.Resolver
}

func (b *builder) Scheme() string { return Scheme }

// Build starts (or joins) the service's Watcher and subscribes to it. It
// does not wait for the first answer: gRPC holds wait-for-ready RPCs until
// the first update, within their deadlines. While the Watcher has no
// answer and its queries fail (the agent is unreachable), the error is
// reported to gRPC every errorEvery, so RPCs that do not wait for ready
// fail at once with it (codes.Unavailable) instead of at their deadline.
func (b *builder) Build(target resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	service := target.Endpoint()
	if service == "" || strings.Contains(service, "/") {
		return nil, fmt.Errorf("grpcresolver: target %q names no service; want %s:///<service>", target.URL.String(), Scheme)
	}
	w := b.r.Watch(service)
	cancel := w.Subscribe(func(insts []balance.Instance) {
		// An empty list makes the balancer fail RPCs and ask for a
		// re-resolution (a no-op: updates come by themselves); its error
		// is that, and says nothing new.
		_ = cc.UpdateState(State(insts))
	})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		reportUntilReady(ctx, w, cc)
	}()
	return &watchResolver{cancel: func() { stop(); <-done; cancel() }}, nil
}

// errorEvery is how often the resolver reports the Watcher's error to
// gRPC until the first answer.
const errorEvery = 500 * time.Millisecond

// reportUntilReady reports w's last error to cc until w has its first
// answer or ctx ends.
func reportUntilReady(ctx context.Context, w *discovery.Watcher, cc resolver.ClientConn) {
	for {
		rctx, cancel := context.WithTimeout(ctx, errorEvery)
		err := w.Ready(rctx)
		cancel()
		switch {
		case err == nil || ctx.Err() != nil:
			return
		case w.Err() != nil:
			cc.ReportError(w.Err())
		}
	}
}

// watchResolver is one connection's subscription to a Watcher.
type watchResolver struct {
	cancel func()
}

// ResolveNow does nothing: the Watcher's blocking query already reports
// every change as it happens.
func (*watchResolver) ResolveNow(resolver.ResolveNowOptions) {}

// Close ends the subscription; no update or error reaches gRPC after it
// returns.
func (r *watchResolver) Close() { r.cancel() }

// State is the resolver state for a list of instances: one address per
// instance, "host:port", carrying the instance in its balancer attributes
// for the muster balancers (see InstanceOf). The resolver sends it; it is
// exported for programs that feed gRPC their own lists, e.g. through
// google.golang.org/grpc/resolver/manual.
func State(insts []balance.Instance) resolver.State {
	addrs := make([]resolver.Address, len(insts))
	for i, in := range insts {
		addrs[i] = resolver.Address{
			Addr:               in.Addr(),
			BalancerAttributes: attributes.New(instanceKey{}, instanceValue{in}),
		}
	}
	return resolver.State{Addresses: addrs}
}

// InstanceOf returns the instance a resolver address of State carries, and
// false for an address without one.
func InstanceOf(addr resolver.Address) (balance.Instance, bool) {
	v, ok := addr.BalancerAttributes.Value(instanceKey{}).(instanceValue)
	return v.inst, ok
}

// instanceKey is the attributes key of the instance.
type instanceKey struct{}

// instanceValue wraps an instance for attributes, which compare values
// with == unless they have an Equal method: an Instance holds a slice and
// a map, so == would panic.
type instanceValue struct {
	inst balance.Instance
}

// Equal reports whether o holds an instance with the same fields.
func (v instanceValue) Equal(o any) bool {
	ov, ok := o.(instanceValue)
	return ok && sameInstance(v.inst, ov.inst)
}
