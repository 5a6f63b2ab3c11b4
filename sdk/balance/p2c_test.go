package balance

import (
	"testing"
)

// While one instance holds requests in flight, every pick goes elsewhere:
// any pair of two different instances includes an idle one.
func TestP2CPrefersLessLoaded(t *testing.T) {
	var p P2C
	insts := list(1, 1, 1)
	// Hold requests on whichever instance comes up until one holds 5.
	held := map[string][]Done{}
	var busy string
	for busy == "" {
		inst, done, err := p.Pick(insts)
		if err != nil {
			t.Fatal(err)
		}
		held[inst.ID] = append(held[inst.ID], done)
		if len(held[inst.ID]) == 5 {
			busy = inst.ID
		}
	}
	for id, dones := range held { // release all but the busy one's
		if id != busy {
			for _, done := range dones {
				done()
			}
		}
	}
	counts, err := countPicks(&p, insts, 3000)
	if err != nil {
		t.Fatal(err)
	}
	if counts[busy] != 0 {
		t.Fatalf("busy instance %s picked %d times: %v", busy, counts[busy], counts)
	}
	for _, inst := range insts {
		if inst.ID != busy && counts[inst.ID] < 1000 {
			t.Errorf("idle instance %s picked only %d times: %v", inst.ID, counts[inst.ID], counts)
		}
	}

	// Once its requests finish, the busy instance is picked again.
	for _, done := range held[busy] {
		done()
	}
	counts, err = countPicks(&p, insts, 3000)
	if err != nil {
		t.Fatal(err)
	}
	if counts[busy] < 500 {
		t.Fatalf("released instance %s picked %d times: %v", busy, counts[busy], counts)
	}
}

// In-flight counts follow the instance, not its position, across list
// changes; a Done called twice does not drive a count below zero.
func TestP2CLoadFollowsInstance(t *testing.T) {
	var p P2C
	insts := list(1, 1)
	inst, done, err := p.Pick(insts)
	if err != nil {
		t.Fatal(err)
	}
	// Reorder and add an instance: the held request still counts.
	other := insts[0]
	if inst.ID == other.ID {
		other = insts[1]
	}
	next := []Instance{list(1, 1, 1)[2], other, inst}
	for range 100 {
		got, d, err := p.Pick(next)
		if err != nil {
			t.Fatal(err)
		}
		d()
		if got.ID == inst.ID {
			t.Fatalf("picked %s with a request in flight over idle instances", inst.ID)
		}
	}
	if n := loadOf(&p, inst); n != 1 {
		t.Fatalf("%s has %d in flight, want 1", inst.ID, n)
	}
	done()
	done()
	if n := loadOf(&p, inst); n != 0 {
		t.Fatalf("%s has %d in flight after Done twice, want 0", inst.ID, n)
	}
}

func loadOf(p *P2C, inst Instance) int64 {
	v := p.view.Load()
	for i, k := range v.keys {
		if k == keyOf(&inst) {
			return v.loads[i].inflight.Load()
		}
	}
	return -1
}

// With one instance there is no choice to make, but its load is counted.
func TestP2CSingle(t *testing.T) {
	var p P2C
	insts := list(1)
	inst, done, err := p.Pick(insts)
	if err != nil || inst.ID != "a" {
		t.Fatalf("Pick = %v, %v", inst.ID, err)
	}
	if n := loadOf(&p, inst); n != 1 {
		t.Fatalf("in flight %d, want 1", n)
	}
	done()
	if n := loadOf(&p, inst); n != 0 {
		t.Fatalf("in flight %d after Done, want 0", n)
	}
}
