package grpcresolver

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/base"
	"google.golang.org/grpc/resolver"

	"github.com/musterhq/muster/sdk/balance"
)

// The balancers are registered when the package is loaded, as gRPC asks
// (balancer.Register is not safe once clients exist).
func init() {
	for _, policy := range balance.Policies() {
		balancer.Register(&balancerBuilder{name: BalancerName(policy), policy: policy})
	}
}

// BalancerName returns the gRPC name of the balancer for a balance policy:
// "muster_" + policy with dashes as underscores ("p2c" → "muster_p2c",
// "weighted-random" → "muster_weighted_random"). It does not check that the
// policy exists.
func BalancerName(policy string) string {
	return "muster_" + strings.ReplaceAll(policy, "-", "_")
}

// ServiceConfig returns a gRPC service config in JSON that selects the
// balancer of policy, or an error wrapping balance.ErrUnknownPolicy.
func ServiceConfig(policy string) (string, error) {
	if _, err := balance.New(policy); err != nil {
		return "", fmt.Errorf("grpcresolver: %w", err)
	}
	return serviceConfig(policy), nil
}

func serviceConfig(policy string) string {
	return fmt.Sprintf(`{"loadBalancingConfig":[{%q:{}}]}`, BalancerName(policy))
}

// WithPolicy is a DialOption that makes the balancer of policy (a name of
// balance.Policies) the connection's default, as its service config. The
// resolver sends no service config, so the default applies. For an unknown
// policy, grpc.NewClient fails with an error naming the balancer.
func WithPolicy(policy string) grpc.DialOption {
	return grpc.WithDefaultServiceConfig(serviceConfig(policy))
}

// balancerBuilder builds, per connection, a base balancer (one SubConn per
// address, picks among the READY ones) whose picker asks a balance.Balancer.
type balancerBuilder struct {
	name, policy string
}

func (bb *balancerBuilder) Name() string { return bb.name }

func (bb *balancerBuilder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	b, err := balance.New(bb.policy)
	if err != nil {
		panic(fmt.Sprintf("grpcresolver: policy %q from balance.Policies: %v", bb.policy, err))
	}
	pb := &pickerBuilder{balancer: b, instances: map[string]balance.Instance{}}
	return &instanceBalancer{
		Balancer: base.NewBalancerBuilder(bb.name, pb, base.Config{}).Build(cc, opts),
		pb:       pb,
	}
}

// instanceBalancer is the base balancer, told the latest instances before
// each resolver update: base remembers each SubConn's address as it was
// when the SubConn was made, and a weight may have changed since.
type instanceBalancer struct {
	balancer.Balancer
	pb *pickerBuilder
}

func (b *instanceBalancer) UpdateClientConnState(s balancer.ClientConnState) error {
	b.pb.update(s.ResolverState.Addresses)
	return b.Balancer.UpdateClientConnState(s)
}

// pickerBuilder makes a picker per change of the READY SubConns. gRPC calls
// its methods, and update, from one goroutine at a time.
type pickerBuilder struct {
	balancer  balance.Balancer            // one per connection, shared by its pickers
	instances map[string]balance.Instance // by "host:port", from the latest resolver update
}

func (pb *pickerBuilder) update(addrs []resolver.Address) {
	m := make(map[string]balance.Instance, len(addrs))
	for _, a := range addrs {
		m[a.Addr] = instanceFor(a)
	}
	pb.instances = m
}

func (pb *pickerBuilder) Build(info base.PickerBuildInfo) balancer.Picker {
	if len(info.ReadySCs) == 0 {
		return base.NewErrPicker(balancer.ErrNoSubConnAvailable)
	}
	p := &picker{
		balancer: pb.balancer,
		insts:    make([]balance.Instance, 0, len(info.ReadySCs)),
		subConns: make(map[hostPort]balancer.SubConn, len(info.ReadySCs)),
	}
	for sc, sci := range info.ReadySCs {
		inst, ok := pb.instances[sci.Address.Addr]
		if !ok {
			inst = instanceFor(sci.Address)
		}
		p.insts = append(p.insts, inst)
		p.subConns[hostPort{inst.Address, inst.Port}] = sc
	}
	// ReadySCs is a map: sort, so that a policy sees the same order each time.
	slices.SortFunc(p.insts, func(a, b balance.Instance) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Address, b.Address), cmp.Compare(a.Port, b.Port))
	})
	return p
}

// instanceFor is the instance of a resolver address: the one State put in
// it, or, from another resolver, one made from "host:port" with weight 1.
func instanceFor(a resolver.Address) balance.Instance {
	if inst, ok := InstanceOf(a); ok {
		return inst
	}
	host, port, err := net.SplitHostPort(a.Addr)
	if err != nil {
		return balance.Instance{ID: a.Addr, Address: a.Addr}
	}
	p, _ := strconv.Atoi(port)
	return balance.Instance{ID: a.Addr, Address: host, Port: p}
}

type hostPort struct {
	host string
	port int
}

// picker is immutable; Pick is called concurrently by gRPC.
type picker struct {
	balancer balance.Balancer
	insts    []balance.Instance // the READY instances, sorted
	subConns map[hostPort]balancer.SubConn
}

func (p *picker) Pick(balancer.PickInfo) (balancer.PickResult, error) {
	inst, done, err := p.balancer.Pick(p.insts)
	if err != nil {
		return balancer.PickResult{}, balancer.ErrNoSubConnAvailable
	}
	return balancer.PickResult{
		SubConn: p.subConns[hostPort{inst.Address, inst.Port}],
		Done:    func(balancer.DoneInfo) { done() },
	}, nil
}

// sameInstance reports whether a and b have the same fields.
func sameInstance(a, b balance.Instance) bool {
	return a.ID == b.ID && a.Address == b.Address && a.Port == b.Port && a.Weight == b.Weight &&
		slices.Equal(a.Tags, b.Tags) && maps.Equal(a.Meta, b.Meta)
}
