package checks

// statusHandler applies a check's thresholds to its probe results; it is
// Consul's StatusHandler.
//
// Passing and warning results count as successes, critical ones as failures;
// a result of the other sort resets the count. A success is reported once
// SuccessBeforePassing successes in a row have been seen. A failure is
// reported as critical once FailuresBeforeCritical failures in a row have been
// seen, else as warning once FailuresBeforeWarning have, else not at all.
// Both counts start at their thresholds, so the first result of a check is
// always reported and the thresholds delay only changes.
//
// A statusHandler is used by the runner's goroutine only.
type statusHandler struct {
	successBeforePassing   int
	failuresBeforeWarning  int
	failuresBeforeCritical int

	successes int // consecutive successes
	failures  int // consecutive failures
}

// newStatusHandler returns the handler of a Spec that has its defaults (so
// FailuresBeforeWarning is set).
func newStatusHandler(s Spec) *statusHandler {
	return &statusHandler{
		successBeforePassing:   s.SuccessBeforePassing,
		failuresBeforeWarning:  s.FailuresBeforeWarning,
		failuresBeforeCritical: s.FailuresBeforeCritical,
		successes:              s.SuccessBeforePassing,
		failures:               s.FailuresBeforeCritical,
	}
}

// next takes the status of one probe and returns the status to report, or
// ok=false while the run of consecutive results is below its threshold.
func (h *statusHandler) next(status string) (report string, ok bool) {
	if status == Passing || status == Warning {
		h.successes++
		h.failures = 0
		return status, h.successes >= h.successBeforePassing
	}
	h.failures++
	h.successes = 0
	switch {
	case h.failures >= h.failuresBeforeCritical:
		return status, true
	case h.failures >= h.failuresBeforeWarning:
		return Warning, true
	}
	return "", false
}
