package balance

import (
	"sync"
	"testing"
)

func TestRoundRobinEven(t *testing.T) {
	type testcase struct {
		rr      *RoundRobin
		weights []int // ignored by RoundRobin; one instance each
		picks   int   // a multiple of len(weights)
	}
	run := func(t *testing.T, tc testcase) {
		n := len(tc.weights)
		counts, err := countPicks(tc.rr, list(tc.weights...), tc.picks)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if got, want := counts[idOf(i)], tc.picks/n; got != want {
				t.Errorf("%s picked %d times, want %d: %v", idOf(i), got, want, counts)
			}
		}
	}
	for name, tc := range map[string]testcase{
		"one":                 {&RoundRobin{}, []int{1}, 10},
		"three":               {&RoundRobin{}, []int{1, 1, 1}, 300},
		"three, random start": {NewRoundRobin(), []int{1, 1, 1}, 3},
		"ten, random start":   {NewRoundRobin(), []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 1000},
		"weights are ignored": {&RoundRobin{}, []int{1, 5, 10}, 300},
	} {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

// The zero value walks the list in order.
func TestRoundRobinOrder(t *testing.T) {
	var rr RoundRobin
	insts := list(1, 5, 10)
	var got string
	for range 7 {
		inst, _, _ := rr.Pick(insts)
		got += inst.ID
	}
	if got != "abcabca" {
		t.Fatalf("order %q, want abcabca", got)
	}
}

// The course's PollingDispatcher increments a static int without
// synchronisation; concurrent requests lose counts. Ours stays exactly even.
func TestRoundRobinConcurrentEven(t *testing.T) {
	const goroutines, picks = 8, 3000 // 24000 picks, a multiple of 3
	rr := NewRoundRobin()
	insts := list(1, 1, 1)
	var mu sync.Mutex
	total := map[string]int{}
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			counts, err := countPicks(rr, insts, picks)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for id, n := range counts {
				total[id] += n
			}
		})
	}
	wg.Wait()
	for _, inst := range insts {
		if got, want := total[inst.ID], goroutines*picks/len(insts); got != want {
			t.Errorf("%s picked %d times, want %d: %v", inst.ID, got, want, total)
		}
	}
}
