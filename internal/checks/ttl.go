package checks

import (
	"fmt"
	"time"
)

// SetTTL sets the status of a TTL check (what Consul's
// /v1/agent/check/pass, warn, fail and update do): it reports status and
// output to the Notifier at once, from the calling goroutine, and restarts the
// TTL, so the check turns critical only if SetTTL is not called again within
// TTL. The output is truncated to OutputMaxSize. Thresholds do not apply to
// TTL checks, as in Consul.
//
// SetTTL fails with ErrNotTTL on another kind of check, ErrInvalidStatus for
// a status other than Passing, Warning and Critical, and ErrStopped after
// Stop. It must not be called from the Notifier of the same runner.
func (r *Runner) SetTTL(status, output string) error {
	if r.spec.TTL == 0 {
		return fmt.Errorf("%w: check %q is a %s check", ErrNotTTL, r.spec.ID, r.spec.Type())
	}
	switch status {
	case Passing, Warning, Critical:
	default:
		return fmt.Errorf("%w %q: want passing, warning or critical", ErrInvalidStatus, status)
	}
	output = truncateOutput(output, r.spec.OutputMaxSize)

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return ErrStopped
	}
	r.logger.Debug("check status updated", "status", status)
	r.reportLocked(status, output)
	r.ttlLastOutput = output
	r.armTTLLocked()
	return nil
}

// armTTLLocked (re)starts the TTL timer. r.mu must be held.
//
// An expiry that fired just before the re-arm may already be waiting for
// r.mu; the generation number tells it that it is stale.
func (r *Runner) armTTLLocked() {
	r.ttlGen++
	gen := r.ttlGen
	if r.ttlTimer != nil {
		r.ttlTimer.Stop()
	}
	r.ttlTimer = time.AfterFunc(r.spec.TTL, func() { r.expireTTL(gen) })
}

// expireTTL reports a missed TTL; it runs on the timer's goroutine. After an
// expiry the check stays critical, without further reports, until SetTTL.
func (r *Runner) expireTTL(gen uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped || gen != r.ttlGen {
		return
	}
	output := "TTL expired"
	if r.ttlLastOutput != "" {
		output += " (last output before timeout follows): " + r.ttlLastOutput
	}
	r.logger.Warn("check missed TTL, is now critical")
	r.reportLocked(Critical, output)
}
