// Package backoff is the jittered exponential backoff the SDK's retry loops
// share (discovery's watchers, the lock backends). It is internal to sdk/.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Jittered returns the wait before the next try after attempt failed ones
// (attempt >= 1): lo doubled per failure, capped at hi, then jittered to
// between half and all of that, so clients that failed together spread
// out.
func Jittered(attempt int, lo, hi time.Duration) time.Duration {
	d := hi
	if shift := attempt - 1; shift >= 0 && shift < 32 {
		if s := lo << shift; s > 0 && s < hi {
			d = s
		}
	}
	half := d / 2
	return half + rand.N(d-half+1)
}
