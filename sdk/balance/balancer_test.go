package balance

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestNew(t *testing.T) {
	type testcase struct {
		policy string
		want   Balancer // zero value of the wanted type; nil for an error
	}
	run := func(t *testing.T, tc testcase) {
		b, err := New(tc.policy)
		if tc.want == nil {
			if !errors.Is(err, ErrUnknownPolicy) {
				t.Fatalf("New(%q) error = %v, want ErrUnknownPolicy", tc.policy, err)
			}
			for _, name := range Policies() {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error %q does not name the valid policy %q", err, name)
				}
			}
			return
		}
		if err != nil {
			t.Fatalf("New(%q): %v", tc.policy, err)
		}
		if got, want := typeName(b), typeName(tc.want); got != want {
			t.Fatalf("New(%q) = %s, want %s", tc.policy, got, want)
		}
	}
	for name, tc := range map[string]testcase{
		"round robin":     {"round-robin", &RoundRobin{}},
		"weighted":        {"weighted", &SmoothWeighted{}},
		"random":          {"random", &Random{}},
		"weighted random": {"weighted-random", &Random{Weighted: true}},
		"p2c":             {"p2c", &P2C{}},
		"unknown":         {"least-conn", nil},
		"empty":           {"", nil},
		"wrong case":      {"P2C", nil},
	} {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func typeName(b Balancer) string {
	switch b := b.(type) {
	case *RoundRobin:
		return "RoundRobin"
	case *SmoothWeighted:
		return "SmoothWeighted"
	case *Random:
		if b.Weighted {
			return "Random{Weighted}"
		}
		return "Random"
	case *P2C:
		return "P2C"
	}
	return "unknown"
}

func TestPickEmpty(t *testing.T) {
	for name, b := range policies() {
		t.Run(name, func(t *testing.T) {
			for _, insts := range [][]Instance{nil, {}} {
				_, done, err := b.Pick(insts)
				if !errors.Is(err, ErrNoInstance) {
					t.Fatalf("Pick(%v) error = %v, want ErrNoInstance", insts, err)
				}
				if done == nil {
					t.Fatal("Done is nil")
				}
				done()
			}
			// A balancer that saw an empty list still works afterwards.
			if inst, _, err := b.Pick(list(1)); err != nil || inst.ID != "a" {
				t.Fatalf("Pick after empty = %v, %v", inst.ID, err)
			}
		})
	}
}

// An instance that leaves the list is never picked again, by any policy,
// and the per-instance state shrinks with the list.
func TestListChanges(t *testing.T) {
	for name, b := range policies() {
		t.Run(name, func(t *testing.T) {
			abc := list(1, 5, 10)
			if _, err := countPicks(b, abc, 100); err != nil {
				t.Fatal(err)
			}
			ac := []Instance{abc[0], abc[2]}
			counts, err := countPicks(b, ac, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if counts["b"] != 0 {
				t.Fatalf("removed instance b picked %d times", counts["b"])
			}
			if counts["a"] == 0 || counts["c"] == 0 {
				t.Fatalf("remaining instances not both picked: %v", counts)
			}
			if n := stateSize(b); n > len(ac) {
				t.Fatalf("state for %d instances, list has %d", n, len(ac))
			}
		})
	}
}

// Churning through many lists of new instances keeps state bounded by the
// latest list.
func TestStateBounded(t *testing.T) {
	for name, b := range policies() {
		t.Run(name, func(t *testing.T) {
			for gen := range 1000 {
				insts := list(1, 2, 3)
				for i := range insts {
					insts[i].ID = idOf(i) + "-" + idOf(gen%26) + idOf(gen/26)
				}
				for range 3 {
					inst, done, err := b.Pick(insts)
					if err != nil {
						t.Fatal(err)
					}
					if !strings.HasSuffix(inst.ID, insts[0].ID[1:]) {
						t.Fatalf("picked %s from generation %d", inst.ID, gen)
					}
					_ = done // left in flight on purpose: a P2C must still forget it
				}
				if n := stateSize(b); n > len(insts) {
					t.Fatalf("generation %d: state for %d instances, list has %d", gen, n, len(insts))
				}
			}
		})
	}
}

// stateSize is the number of instances b keeps state for.
func stateSize(b Balancer) int {
	switch b := b.(type) {
	case *SmoothWeighted:
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.state)
	case *P2C:
		if v := b.view.Load(); v != nil {
			return len(v.loads)
		}
	}
	return 0
}

// Instances without an ID are told apart by address and port.
func TestKeyWithoutID(t *testing.T) {
	insts := list(1, 1, 1)
	for i := range insts {
		insts[i].ID = ""
	}
	for name, b := range policies() {
		t.Run(name, func(t *testing.T) {
			ports := map[int]int{}
			for range 3000 {
				inst, done, err := b.Pick(insts)
				if err != nil {
					t.Fatal(err)
				}
				ports[inst.Port]++
				done()
			}
			if len(ports) != 3 {
				t.Fatalf("picked ports %v, want all three", ports)
			}
		})
	}
}

// Many goroutines pick while the list changes under them. Run with -race.
// Every pick must come from the list the goroutine passed, and after every
// Done no request is counted in flight.
func TestConcurrentPicks(t *testing.T) {
	const goroutines, picks = 8, 2000
	lists := [][]Instance{list(1, 5, 10), list(3, 1), list(2, 2, 2, 2, 2)}
	lists[1][0].ID = "x" // x and b: one new instance, one kept
	for name, b := range policies() {
		t.Run(name, func(t *testing.T) {
			var current atomic.Pointer[[]Instance]
			current.Store(&lists[0])
			stop := make(chan struct{})
			var writer sync.WaitGroup
			writer.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					current.Store(&lists[i%len(lists)])
				}
			})
			var wg sync.WaitGroup
			errs := make(chan error, goroutines)
			for range goroutines {
				wg.Go(func() {
					for range picks {
						insts := *current.Load()
						inst, done, err := b.Pick(insts)
						if err != nil {
							errs <- err
							return
						}
						if !contains(insts, inst) {
							errs <- errors.New("picked " + inst.ID + " from a list without it")
							done()
							return
						}
						done()
					}
				})
			}
			wg.Wait()
			close(stop)
			writer.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if p, ok := b.(*P2C); ok {
				for i, l := range p.view.Load().loads {
					if n := l.inflight.Load(); n != 0 {
						t.Errorf("instance %d: %d in flight after every Done", i, n)
					}
				}
			}
		})
	}
}

func contains(insts []Instance, inst Instance) bool {
	for _, i := range insts {
		if i.ID == inst.ID && i.Port == inst.Port {
			return true
		}
	}
	return false
}
