package balance

import (
	"errors"
	"fmt"
	"strings"
)

// Errors returned by this package.
var (
	// ErrNoInstance is returned by Pick for an empty snapshot: the service
	// has no healthy instance to send to.
	ErrNoInstance = errors.New("balance: no instance available")
	// ErrUnknownPolicy is wrapped by New's error for a name it does not know.
	ErrUnknownPolicy = errors.New("balance: unknown policy")
)

// Done reports that a request sent to a picked instance has finished,
// successfully or not. Call it exactly once per successful Pick; it is safe
// to call from any goroutine. Pick never returns a nil Done, even with an
// error, so `defer done()` is always safe.
type Done func()

// Balancer chooses one instance from a snapshot for each request.
//
// The caller owns the snapshot: typically a resolver publishes a new slice
// whenever the registry reports a change, and each request passes whichever
// slice it loaded. Successive calls may therefore see different lists,
// concurrently; a Balancer copes with instances coming and going, keys any
// per-instance state by Instance.ID (Address and Port when ID is empty),
// and keeps state for no more instances than one list holds, dropping an
// instance's state once it has picked from a list without it, so instances
// that went away cost nothing. Pick reads insts and does not retain it;
// treat a published snapshot as immutable.
//
// State follows one service's list, so use one Balancer per service: a
// Balancer shared by two services still picks correctly but keeps resetting
// its per-instance state.
//
// Implementations are safe for concurrent use. Pick returns ErrNoInstance
// for an empty list and otherwise a copy of one element of insts.
type Balancer interface {
	Pick(insts []Instance) (Instance, Done, error)
}

// Policy names accepted by New.
const (
	PolicyRoundRobin     = "round-robin"
	PolicyWeighted       = "weighted"
	PolicyRandom         = "random"
	PolicyWeightedRandom = "weighted-random"
	PolicyP2C            = "p2c"
)

// Policies lists the names New accepts, in documentation order.
func Policies() []string {
	return []string{PolicyRoundRobin, PolicyWeighted, PolicyRandom, PolicyWeightedRandom, PolicyP2C}
}

// New returns a new Balancer for the named policy (see the package
// documentation). Each call returns fresh state: call it once per service.
func New(policy string) (Balancer, error) {
	switch policy {
	case PolicyRoundRobin:
		return NewRoundRobin(), nil
	case PolicyWeighted:
		return &SmoothWeighted{}, nil
	case PolicyRandom:
		return &Random{}, nil
	case PolicyWeightedRandom:
		return &Random{Weighted: true}, nil
	case PolicyP2C:
		return &P2C{}, nil
	}
	return nil, fmt.Errorf("%w %q (valid: %s)", ErrUnknownPolicy, policy, strings.Join(Policies(), ", "))
}

// noDone is the Done of policies that do not track requests. A package-level
// func value, so returning it does not allocate.
func noDone() {}
