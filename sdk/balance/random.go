package balance

import "math/rand/v2"

// Random picks an instance at random: uniformly, or, when Weighted, with
// probability Weight(i) / sum of weights (Instance.Weight clamped to
// [1, MaxWeight]). Weighted is what the course's WeightDispatcher set out to
// do by repeating each instance Tags[0] times; see WeightOf for why its
// weights never applied.
//
// Random keeps no state and draws from math/rand/v2's per-thread generator,
// so concurrent picks do not contend (unlike the course's
// new Random(DateTime.Now.Millisecond), which gives every request in the same
// millisecond the same "random" instance). The zero value picks uniformly.
type Random struct {
	Weighted bool
}

// Pick implements Balancer. It does not allocate.
func (r Random) Pick(insts []Instance) (Instance, Done, error) {
	if len(insts) == 0 {
		return Instance{}, noDone, ErrNoInstance
	}
	if !r.Weighted {
		return insts[rand.IntN(len(insts))], noDone, nil
	}
	total := 0
	for i := range insts {
		total += insts[i].weight()
	}
	x := rand.IntN(total)
	for i := range insts {
		x -= insts[i].weight()
		if x < 0 {
			return insts[i], noDone, nil
		}
	}
	panic("unreachable: x < total")
}
