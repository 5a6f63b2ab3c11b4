package balance

import (
	"strings"
	"sync"
	"testing"
)

func TestSmoothWeighted(t *testing.T) {
	type testcase struct {
		weights []int
		cycles  int
		maxRun  int    // longest run of one instance allowed, across cycles
		first   string // the first cycle, when given
	}
	run := func(t *testing.T, tc testcase) {
		var sw SmoothWeighted
		insts := list(tc.weights...)
		total := 0
		for _, w := range tc.weights {
			total += clampWeight(w)
		}
		var seq strings.Builder
		for c := range tc.cycles {
			counts := map[string]int{}
			for range total {
				inst, done, err := sw.Pick(insts)
				if err != nil {
					t.Fatal(err)
				}
				done()
				counts[inst.ID]++
				seq.WriteString(inst.ID)
			}
			// Every cycle of sum(weights) picks matches the weights exactly.
			for i, w := range tc.weights {
				if got := counts[idOf(i)]; got != clampWeight(w) {
					t.Fatalf("cycle %d: %s picked %d times, want %d (%v)", c, idOf(i), got, clampWeight(w), counts)
				}
			}
		}
		s := seq.String()
		if tc.first != "" && s[:total] != tc.first {
			t.Errorf("first cycle %q, want %q", s[:total], tc.first)
		}
		if r := longestRun(s); r > tc.maxRun {
			t.Errorf("longest run %d > %d in %q", r, tc.maxRun, s[:total])
		}
	}
	for name, tc := range map[string]testcase{
		// The course's three instances: weights 1, 5, 10.
		"course 1 5 10": {[]int{1, 5, 10}, 100, 2, "cbccbcacbccbccbc"},
		// nginx's documented example.
		"nginx 5 1 1":  {[]int{5, 1, 1}, 10, 4, "aabacaa"},
		"equal":        {[]int{3, 3, 3}, 10, 1, "abcabcabc"},
		"zero and neg": {[]int{0, -2, 1}, 10, 1, "abc"},
		"one":          {[]int{7}, 3, 21, "aaaaaaa"},
		"two skewed":   {[]int{1, 99}, 3, 99, ""},
	} {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func longestRun(s string) int {
	best, run := 0, 0
	for i := range len(s) {
		if i > 0 && s[i] == s[i-1] {
			run++
		} else {
			run = 1
		}
		best = max(best, run)
	}
	return best
}

// Concurrent picks are serialised, so whole cycles stay exact: 16000 picks
// on weights 1, 5, 10 are 1000, 5000, 10000.
func TestSmoothWeightedConcurrentExact(t *testing.T) {
	const goroutines, picks = 8, 2000
	var sw SmoothWeighted
	insts := list(1, 5, 10)
	var mu sync.Mutex
	total := map[string]int{}
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			counts, err := countPicks(&sw, insts, picks)
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
	for id, want := range map[string]int{"a": 1000, "b": 5000, "c": 10000} {
		if total[id] != want {
			t.Errorf("%s picked %d times, want %d: %v", id, total[id], want, total)
		}
	}
}

// When the list changes, instances that stay keep their place in the
// rotation and the new proportions hold from then on.
func TestSmoothWeightedListChange(t *testing.T) {
	var sw SmoothWeighted
	abc := list(1, 5, 10)
	if _, err := countPicks(&sw, abc, 7); err != nil { // mid-cycle
		t.Fatal(err)
	}
	// c leaves, d (weight 2) arrives, a and b swap places.
	d := Instance{ID: "d", Address: "10.0.0.2", Port: 9000, Weight: 2}
	next := []Instance{abc[1], abc[0], d}
	counts, err := countPicks(&sw, next, 8000)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]int{"a": 1000, "b": 5000, "d": 2000} {
		if diff := counts[id] - want; diff < -1 || diff > 1 {
			t.Errorf("%s picked %d times, want %d±1: %v", id, counts[id], want, counts)
		}
	}
	if counts["c"] != 0 {
		t.Errorf("removed c picked %d times", counts["c"])
	}
}
