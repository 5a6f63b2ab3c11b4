package leader

import (
	"sync"
	"time"
)

// TombstoneGC decides how far the leader may reap tombstones: those of keys
// deleted more than TTL ago. The leader samples its latest index every
// Granularity; the reap point is the newest sample at least TTL old. A new
// leader starts with no samples, so it reaps nothing for one TTL: a reader
// that blocked on a tombstone's index just before a failover keeps it.
type TombstoneGC struct {
	TTL         time.Duration
	Granularity time.Duration

	mu      sync.Mutex
	samples []sample // guarded by mu; oldest first
	reaped  uint64   // guarded by mu
}

type sample struct {
	at  time.Time
	idx uint64
}

// Consul's defaults.
const (
	DefaultTombstoneTTL         = 15 * time.Minute
	DefaultTombstoneGranularity = 30 * time.Second
)

// Sample records the latest index at now and returns the index to reap up
// to, or 0 when there is nothing new to reap.
func (g *TombstoneGC) Sample(now time.Time, latest uint64) uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.samples = append(g.samples, sample{now, latest})
	var upTo uint64
	for len(g.samples) > 0 && now.Sub(g.samples[0].at) >= g.TTL {
		upTo = g.samples[0].idx
		g.samples = g.samples[1:]
	}
	if upTo <= g.reaped {
		return 0
	}
	g.reaped = upTo
	return upTo
}

// Reset forgets every sample: leadership was lost.
func (g *TombstoneGC) Reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.samples, g.reaped = nil, 0
}
