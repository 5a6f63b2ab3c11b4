package leader

import (
	"testing"
	"time"
)

func TestTombstoneGC(t *testing.T) {
	g := &TombstoneGC{TTL: 10 * time.Minute, Granularity: time.Minute}
	t0 := time.Unix(0, 0)
	steps := []struct {
		at     time.Duration
		latest uint64
		want   uint64
	}{
		{0, 10, 0},
		{5 * time.Minute, 20, 0},
		{10 * time.Minute, 30, 10}, // the sample at 0 is now TTL old
		{11 * time.Minute, 40, 0},  // nothing newer is old enough yet
		{15 * time.Minute, 50, 20},
		{40 * time.Minute, 60, 50},
	}
	for _, s := range steps {
		if got := g.Sample(t0.Add(s.at), s.latest); got != s.want {
			t.Fatalf("at %v: reap up to %d, want %d", s.at, got, s.want)
		}
	}
	g.Reset()
	if got := g.Sample(t0.Add(time.Hour), 70); got != 0 {
		t.Fatalf("after reset: %d", got)
	}
}
