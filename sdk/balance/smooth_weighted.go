package balance

import "sync"

// SmoothWeighted is nginx's smooth weighted round robin: over every run of
// W picks on one list, where W is the sum of the weights, instance i is
// chosen exactly Weight(i) times, and the choices are spread out rather than
// grouped (weights 5, 1, 1 give a a b a c a a, not a a a a a b c).
//
// Each pick adds every instance's weight to its current value, chooses the
// instance with the largest current value (the earlier one on a tie) and
// subtracts W from it.
//
// The current values are the only state. They are kept for the instances of
// the latest list, in the list's order, so a pick on an unchanged list
// touches no map; when the list changes, instances that stay (same ID, or
// same address and port without an ID) keep their current value, new ones
// start at 0, and those that left are forgotten.
//
// Weights are Instance.Weight clamped to [1, MaxWeight]; a weight change on
// an instance applies from the next pick. The zero value is ready to use.
// Picks are serialised by a mutex held for one pass over the list.
type SmoothWeighted struct {
	mu    sync.Mutex
	state []swState // guarded by mu; state[i] belongs to insts[i] of the latest list
}

type swState struct {
	key     instanceKey
	current int
}

// Pick implements Balancer. It does not allocate unless the list differs
// from the one of the previous pick.
func (s *SmoothWeighted) Pick(insts []Instance) (Instance, Done, error) {
	if len(insts) == 0 {
		return Instance{}, noDone, ErrNoInstance
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.matchesLocked(insts) {
		s.resetLocked(insts)
	}
	best, total := 0, 0
	for i := range insts {
		w := insts[i].weight()
		total += w
		s.state[i].current += w
		if s.state[i].current > s.state[best].current {
			best = i
		}
	}
	s.state[best].current -= total
	return insts[best], noDone, nil
}

// matchesLocked reports whether s.state lines up with insts. s.mu must be held.
func (s *SmoothWeighted) matchesLocked(insts []Instance) bool {
	if len(s.state) != len(insts) {
		return false
	}
	for i := range insts {
		if s.state[i].key != keyOf(&insts[i]) {
			return false
		}
	}
	return true
}

// resetLocked lines s.state up with insts, carrying over the current values
// of instances still present. s.mu must be held.
func (s *SmoothWeighted) resetLocked(insts []Instance) {
	kept := make(map[instanceKey]int, len(s.state))
	for _, st := range s.state {
		kept[st.key] = st.current
	}
	state := make([]swState, len(insts))
	for i := range insts {
		k := keyOf(&insts[i])
		state[i] = swState{key: k, current: kept[k]}
	}
	s.state = state
}
