package balance

import (
	"errors"
	"net"
	"strconv"
	"strings"
)

// MaxWeight is the largest weight a balancer honours; larger weights count
// as MaxWeight. The cap keeps the weight sums of SmoothWeighted and weighted
// Random far from overflow.
const MaxWeight = 1_000_000

// Instance is one running copy of a service, as a balancer sees it.
//
// Balancers read an Instance and never modify it; Pick returns a copy that
// shares Tags and Meta with the caller's snapshot, so neither side may modify
// those after the snapshot is published.
type Instance struct {
	// ID identifies the instance across snapshots (Consul's service ID).
	// Balancers that keep per-instance state key it by ID, or by
	// Address and Port when ID is empty.
	ID string
	// Address is a host name or IP address (no port). Consul reports an
	// empty service address when the node's address applies; the resolver
	// fills that in before building the snapshot.
	Address string
	Port    int
	// Weight is the relative share of requests the weighted policies send
	// here; values below 1 count as 1, values above MaxWeight as MaxWeight.
	// RoundRobin, unweighted Random and P2C ignore it. See WeightOf.
	Weight int
	Tags   []string
	Meta   map[string]string
}

// Addr returns "host:port", bracketing IPv6 hosts ("[::1]:8080").
// It allocates; callers on a hot path may cache it per snapshot.
func (i Instance) Addr() string {
	return net.JoinHostPort(i.Address, strconv.Itoa(i.Port))
}

// weight is i.Weight clamped to [1, MaxWeight].
func (i *Instance) weight() int {
	return clampWeight(i.Weight)
}

func clampWeight(w int) int {
	switch {
	case w < 1:
		return 1
	case w > MaxWeight:
		return MaxWeight
	}
	return w
}

// instanceKey identifies an instance across snapshots without allocating:
// the ID when there is one, else the address and port.
type instanceKey struct {
	id   string
	addr string
	port int
}

func keyOf(i *Instance) instanceKey {
	if i.ID != "" {
		return instanceKey{id: i.ID}
	}
	return instanceKey{addr: i.Address, port: i.Port}
}

// WeightOf derives an instance's weight from what a Consul registration
// carries, first match wins:
//
//  1. passing, Consul's Weights.Passing (or Weights.Warning for an instance
//     whose checks warn), when above 1;
//  2. meta["weight"], a positive integer;
//  3. a tag "weight=N" or "weight:N";
//  4. the first tag, when it is a bare positive integer: the course
//     registers Tags = { weight.ToString() } and nothing else;
//  5. otherwise 1.
//
// A passing weight of 1 defers to the later sources because Consul fills in
// Weights{Passing: 1, Warning: 1} when a registration leaves Weights out, as
// the course's does, so 1 cannot be told apart from "not set". Values that
// are not positive integers are skipped; the result is capped at MaxWeight.
//
// The course's WeightDispatcher meant to repeat each instance Tags[0] times
// and pick at random, but it inverts its test:
//
//	Enumerable.Repeat(service, int.TryParse(Tags?[0], out int w) ? 1 : w)
//
// so an instance with a numeric tag is repeated once whatever the number, and
// one without is repeated w = 0 times and never chosen: weights never apply.
// Here they do, through SmoothWeighted or weighted Random.
func WeightOf(passing int, tags []string, meta map[string]string) int {
	if passing > 1 {
		return clampWeight(passing)
	}
	if w, ok := parseWeight(meta["weight"]); ok {
		return w
	}
	for _, t := range tags {
		name, value, found := strings.Cut(t, "=")
		if !found {
			name, value, found = strings.Cut(t, ":")
		}
		if found && strings.EqualFold(strings.TrimSpace(name), "weight") {
			if w, ok := parseWeight(value); ok {
				return w
			}
		}
	}
	if len(tags) > 0 {
		if w, ok := parseWeight(tags[0]); ok {
			return w
		}
	}
	return 1
}

// parseWeight reads a positive decimal integer, capped at MaxWeight.
func parseWeight(s string) (int, bool) {
	s = strings.TrimSpace(s)
	n, err := strconv.Atoi(s)
	if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(s, "-") {
		return MaxWeight, true // "99999999999999999999" is still "very heavy"
	}
	if err != nil {
		return 0, false
	}
	if n < 1 {
		return 0, false
	}
	return clampWeight(n), true
}
