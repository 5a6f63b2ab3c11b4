package redislock

import (
	"math/rand/v2"
	"time"
)

// backoff returns the wait before Lock's next attempt after attempt failed
// ones (attempt >= 1): lo doubled per failure, capped at hi, then jittered to
// between half and all of that, so waiters released together spread out.
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
