package balance

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// P2C is the power of two choices: it draws two different instances at
// random and sends the request to the one with fewer requests in flight
// (the first drawn on a tie). A request is in flight from Pick until its
// Done is called, so an instance that slows down accumulates requests and
// is passed over, without the herd effect of always choosing the global
// minimum. It ignores Instance.Weight.
//
// In-flight counts are kept for the instances of the latest list, in the
// list's order, published as an immutable view so picks on an unchanged list
// take no lock. When the list changes, instances that stay (same ID, or same
// address and port without an ID) keep their counts, new ones start at 0,
// and those that left are forgotten; a Done for a forgotten instance is
// harmless. (A pick checks only the two positions it drew, so an instance
// replaced in a list of unchanged length is forgotten when its position is
// next drawn; the view never holds more than one list's instances.)
// The zero value is ready to use.
type P2C struct {
	view atomic.Pointer[p2cView] // the latest list's counts; replaced, never modified
	mu   sync.Mutex              // serialises replacing view
}

// p2cView is immutable once published.
type p2cView struct {
	keys  []instanceKey
	loads []*p2cLoad // loads[i] counts requests in flight to keys[i]
}

type p2cLoad struct {
	inflight atomic.Int64
	done     Done // decrements inflight; made once so Pick need not allocate
}

func newP2CLoad() *p2cLoad {
	l := &p2cLoad{}
	l.done = func() {
		// Never below zero, even if a caller calls Done twice.
		for {
			n := l.inflight.Load()
			if n <= 0 || l.inflight.CompareAndSwap(n, n-1) {
				return
			}
		}
	}
	return l
}

// Pick implements Balancer. It does not allocate unless the list differs
// from the one of an earlier pick.
func (p *P2C) Pick(insts []Instance) (Instance, Done, error) {
	n := len(insts)
	if n == 0 {
		return Instance{}, noDone, ErrNoInstance
	}
	i, j := 0, 0
	if n > 1 {
		i = rand.IntN(n)
		j = rand.IntN(n - 1)
		if j >= i {
			j++
		}
	}
	v := p.view.Load()
	if v == nil || len(v.keys) != n || v.keys[i] != keyOf(&insts[i]) || v.keys[j] != keyOf(&insts[j]) {
		v = p.update(insts)
	}
	if v.loads[j].inflight.Load() < v.loads[i].inflight.Load() {
		i = j
	}
	l := v.loads[i]
	l.inflight.Add(1)
	return insts[i], l.done, nil
}

// update publishes a view lined up with insts, carrying over the loads of
// instances still present, and returns it.
func (p *P2C) update(insts []Instance) *p2cView {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.view.Load()
	if old != nil && old.matches(insts) {
		return old // another pick got here first
	}
	kept := map[instanceKey]*p2cLoad{}
	if old != nil {
		for i, k := range old.keys {
			kept[k] = old.loads[i]
		}
	}
	v := &p2cView{keys: make([]instanceKey, len(insts)), loads: make([]*p2cLoad, len(insts))}
	for i := range insts {
		k := keyOf(&insts[i])
		l := kept[k]
		if l == nil {
			l = newP2CLoad()
			kept[k] = l // a key listed twice shares one count
		}
		v.keys[i], v.loads[i] = k, l
	}
	p.view.Store(v)
	return v
}

func (v *p2cView) matches(insts []Instance) bool {
	if len(v.keys) != len(insts) {
		return false
	}
	for i := range insts {
		if v.keys[i] != keyOf(&insts[i]) {
			return false
		}
	}
	return true
}
