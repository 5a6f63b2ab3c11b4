package backoff

import (
	"testing"
	"time"
)

func TestJittered(t *testing.T) {
	const lo, hi = time.Millisecond, 50 * time.Millisecond
	cases := map[string]struct {
		attempt     int
		least, most time.Duration
	}{
		"first":    {attempt: 1, least: lo / 2, most: lo},
		"third":    {attempt: 3, least: 2 * lo, most: 4 * lo},
		"capped":   {attempt: 7, least: hi / 2, most: hi},
		"overflow": {attempt: 200, least: hi / 2, most: hi},
		"zero":     {attempt: 0, least: hi / 2, most: hi},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for range 1000 {
				if d := Jittered(tc.attempt, lo, hi); d < tc.least || d > tc.most {
					t.Fatalf("Jittered(%d) = %v, want within [%v, %v]", tc.attempt, d, tc.least, tc.most)
				}
			}
		})
	}
}
