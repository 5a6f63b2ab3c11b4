package balance

import (
	"math/rand/v2"
	"sync/atomic"
)

// RoundRobin sends each request to the next instance in the list, in turn:
// the course's PollingDispatcher, whose shared counter it keeps, but as one
// atomic increment instead of an unsynchronised static int++ (which loses
// counts and can repeat an index under concurrent requests).
//
// It keeps no per-instance state: the n-th pick takes insts[n % len(insts)]
// of whatever list it is given, so over any len(insts) consecutive picks on
// one list each instance is chosen exactly once.
//
// The zero value is ready to use and starts at the first instance;
// NewRoundRobin starts at a random one, so many clients that start together
// do not all send their first request to the same instance.
type RoundRobin struct {
	next atomic.Uint64 // picks so far, plus the random start
}

// NewRoundRobin returns a RoundRobin starting at a random position.
func NewRoundRobin() *RoundRobin {
	rr := &RoundRobin{}
	rr.next.Store(rand.Uint64())
	return rr
}

// Pick implements Balancer. It does not allocate.
func (rr *RoundRobin) Pick(insts []Instance) (Instance, Done, error) {
	if len(insts) == 0 {
		return Instance{}, noDone, ErrNoInstance
	}
	n := rr.next.Add(1) - 1
	return insts[n%uint64(len(insts))], noDone, nil
}
