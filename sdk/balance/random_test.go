package balance

import (
	"math"
	"testing"
)

// Random picks follow the weights within six standard deviations over a
// million picks: a false failure has odds of about 1 in 10^8 per instance.
// Six sigma is also tight: under 3% of the expected count for the lightest
// instance here.
func TestRandomProportional(t *testing.T) {
	const picks = 1_000_000
	type testcase struct {
		r       Random
		weights []int
		share   []float64 // expected share of picks per instance
	}
	run := func(t *testing.T, tc testcase) {
		counts, err := countPicks(tc.r, list(tc.weights...), picks)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range tc.share {
			want := picks * p
			sigma := math.Sqrt(picks * p * (1 - p))
			got := float64(counts[idOf(i)])
			if math.Abs(got-want) > 6*sigma {
				t.Errorf("%s picked %.0f times, want %.0f±%.0f: %v", idOf(i), got, want, 6*sigma, counts)
			}
			if 6*sigma > 0.03*want {
				t.Errorf("test too loose for %s: ±%.0f on %.0f", idOf(i), 6*sigma, want)
			}
		}
	}
	for name, tc := range map[string]testcase{
		"uniform ignores weights": {Random{}, []int{1, 5, 10}, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}},
		"weighted 1 5 10":         {Random{Weighted: true}, []int{1, 5, 10}, []float64{1.0 / 16, 5.0 / 16, 10.0 / 16}},
		"weighted equal":          {Random{Weighted: true}, []int{2, 2, 2, 2}, []float64{.25, .25, .25, .25}},
		"weighted zero counts 1":  {Random{Weighted: true}, []int{0, 3}, []float64{.25, .75}},
	} {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}
