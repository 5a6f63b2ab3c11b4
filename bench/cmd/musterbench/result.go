package main

import (
	"fmt"
	"strings"
	"time"
)

// result is one row of the table: one workload on one system (or one
// variant of a system, named like "muster(txn)").
type result struct {
	workload string
	system   string
	value    float64 // the headline metric; see unit
	unit     string  // "ops/s", "incr/s", "acq/s", "s", "ms"
	// lowerIsBetter marks time metrics (seckill sell-out, watch wake-up).
	lowerIsBetter bool
	latName       string // what the latency columns measure
	lat           summary
	notes         []string
	fails         []string
	skipped       string    // non-empty: the row was not measured, and why
	cpu           *cpuPerOp // CPU per operation, for the rows that measure it
}

func newResult(workload, system, unit, latName string) *result {
	return &result{workload: workload, system: system, unit: unit, latName: latName}
}

// note adds an informational remark to the row.
func (r *result) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// check records a FAIL unless ok; it returns ok.
func (r *result) check(ok bool, format string, args ...any) bool {
	if !ok {
		r.fails = append(r.fails, fmt.Sprintf(format, args...))
	}
	return ok
}

// fail records a FAIL.
func (r *result) fail(format string, args ...any) { r.check(false, format, args...) }

// base is the system without its variant: "muster(txn)" -> "muster".
func (r *result) base() string {
	s, _, _ := strings.Cut(r.system, "(")
	return s
}

// fromLoad fills the headline rate and latency from a hammer run and
// records its errors as FAILs.
func (r *result) fromLoad(l load) {
	r.value = l.rate()
	r.lat = l.lat.summarize()
	if l.errs > 0 || l.err != nil {
		r.fail("%d errors, first: %v", l.errs, l.err)
	}
	r.note("%d ops in %s", l.ops, fmtDur(l.elapsed))
}

// fmtDur prints a duration with three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return sig3(float64(d)/float64(time.Microsecond)) + "µs"
	case d < time.Second:
		return sig3(float64(d)/float64(time.Millisecond)) + "ms"
	default:
		return sig3(d.Seconds()) + "s"
	}
}

func sig3(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// fmtNum prints a rate with thousands separators, or three significant
// digits below 100.
func fmtNum(v float64) string {
	if v < 100 {
		return sig3(v)
	}
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fmtValue prints a headline value with its unit.
func fmtValue(v float64, unit string) string {
	switch unit {
	case "s":
		return fmt.Sprintf("%.3f s", v)
	case "ms":
		return sig3(v) + " ms"
	default:
		return fmtNum(v) + " " + unit
	}
}
