package discovery

import (
	"math/rand/v2"
	"time"
)

// backoff returns the wait before the next query after attempt consecutive
// failed ones (attempt >= 1): lo doubled per failure, capped at hi, then
// jittered to between half and all of that.
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	d := hi
	if shift := attempt - 1; shift < 32 {
		if s := lo << shift; s > 0 && s < hi {
			d = s
		}
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// nextIndex is the index to wait on after an answer carrying got, when the
// previous query waited on prev. As Consul's documentation advises, an
// index that went backwards (the agent restarted on an empty store, or a
// snapshot was restored) starts over from 0, which answers at once; an
// index of 0 is raised to 1 so that the next query blocks.
func nextIndex(prev, got uint64) uint64 {
	switch {
	case got < prev:
		return 0
	case got == 0:
		return 1
	}
	return got
}
