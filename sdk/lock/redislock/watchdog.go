package redislock

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// watch is the hold's watchdog (the seed's 守护): it runs in its own
// goroutine from begin until ctx is cancelled by Unlock or the lease is lost,
// extending the lease every Lease/3.
//
// It keeps a local bound on the lease: Lease after the last successful
// acquire or renewal was sent, so never after the server's expiry (clock rate
// drift aside). A renewal that finds the key no longer holds the id loses
// the lease at once; a renewal that fails (network, server) is retried at the
// next tick, and the lease is lost when the bound passes without a success.
// Losing sets h.reason and closes h.lost. watch closes h.done when it returns.
func (l *Lock) watch(ctx context.Context, h *hold, acquired time.Time) {
	defer close(h.done)
	interval := l.opts.Lease / 3
	expires := acquired.Add(l.opts.Lease)
	var lastErr error // of the last failed renewal
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !time.Now().Before(expires) {
			if lastErr == nil { // the timer fired late: the process stalled
				h.lose(errors.New("the lease ran out before the next renewal was due"))
			} else {
				h.lose(fmt.Errorf("no renewal succeeded before the lease ran out: %w", lastErr))
			}
			return
		}
		sent := time.Now()
		ok, err := l.renew(ctx, h, expires)
		switch {
		case ctx.Err() != nil:
			return // Unlock stopped us mid-renewal
		case err != nil:
			lastErr = err // retry at the next tick while the lease lasts
		case !ok:
			h.lose(errNotOurs)
			return
		default:
			expires = sent.Add(l.opts.Lease)
		}
		t.Reset(max(0, min(interval, time.Until(expires))))
	}
}

// renew extends h's lease if the key still holds h's id, giving up at
// expires: a reply after that could not save the lease.
func (l *Lock) renew(ctx context.Context, h *hold, expires time.Time) (bool, error) {
	ctx, cancel := context.WithDeadline(ctx, expires)
	defer cancel()
	n, err := renewScript.Run(ctx, l.client, []string{l.key}, h.id, l.opts.Lease.Milliseconds()).Int64()
	return n == 1, err
}

// lose records why h's lease was lost and closes h.lost. Only the watchdog
// calls it, at most once, before it returns.
func (h *hold) lose(reason error) {
	h.reason = reason
	close(h.lost)
}
