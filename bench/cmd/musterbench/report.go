package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// printResults prints the measured table. The ratio column divides the
// workload's baseline muster row (the row named plain "muster") by each
// other row: above 1 the muster row is larger, which for a rate means
// faster and for a time means slower. withP90 adds a P90 column (-cluster,
// whose failure workloads have few samples).
func printResults(w io.Writer, results []*result, withP90 bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	cols := []string{"WORKLOAD", "SYSTEM", "RESULT", "LATENCY", "P50", "P99", "MAX", "MUSTER/PEER", "CHECK"}
	if withP90 {
		cols = slices.Insert(cols, 5, "P90")
	}
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, r := range results {
		if r.skipped != "" {
			fmt.Fprintf(tw, "%s\t%s\tn/a%s\t%s\n", r.workload, r.system, strings.Repeat("\t", len(cols)-4), r.skipped)
			continue
		}
		check := "ok"
		if len(r.fails) > 0 {
			check = "FAIL"
		}
		lat := []string{fmtDur(r.lat.p50), fmtDur(r.lat.p99), fmtDur(r.lat.max)}
		if withP90 {
			lat = slices.Insert(lat, 1, fmtDur(r.lat.p90))
		}
		if r.lat.n == 0 && r.latName == "" { // no latency measured (check-cpu)
			clear(lat)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.workload, r.system,
			fmtValue(r.value, r.unit), r.latName, strings.Join(lat, "\t"),
			ratioText(baseline(results, r.workload), r), check)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nMUSTER/PEER = muster's headline value / the row's; for rates (ops/s, incr/s, acq/s, q/s) >1 means muster is faster,")
	fmt.Fprintln(w, "for times (s, ms) <1 means muster is faster. n/a: no comparable peer (the reason is in the CHECK column).")
	fmt.Fprintln(w, "\nNotes:")
	width := 13
	for _, r := range results {
		width = max(width, len(r.workload))
	}
	for _, r := range results {
		for _, n := range r.notes {
			fmt.Fprintf(w, "  %-*s %-26s %s\n", width, r.workload, r.system, n)
		}
	}
	var fails []string
	for _, r := range results {
		for _, f := range r.fails {
			fails = append(fails, fmt.Sprintf("  FAIL %s %s: %s", r.workload, r.system, f))
		}
	}
	if len(fails) > 0 {
		fmt.Fprintf(w, "\n!!!!!!!! %d CHECK(S) FAILED !!!!!!!!\n%s\n", len(fails), strings.Join(fails, "\n"))
	} else {
		fmt.Fprintln(w, "\nAll correctness checks passed.")
	}
}

// baseline is the workload's plain "muster" row, if measured.
func baseline(results []*result, workload string) *result {
	for _, r := range results {
		if r.workload == workload && r.system == "muster" && r.skipped == "" {
			return r
		}
	}
	return nil
}

func ratioText(base, r *result) string {
	if base == nil || base == r || r.value == 0 || base.unit != r.unit {
		return ""
	}
	return fmt.Sprintf("%.2fx", base.value/r.value)
}

// reference is a number the project measured earlier on this kind of
// machine, printed next to muster's comparable number from this run, or an
// absolute budget.
type reference struct {
	workload  string
	system    string
	low, high float64 // equal for a single number
	unit      string
	what      string
	// musterRow and field pick muster's comparable number: field is
	// "value" (the headline) or "p99" (in the unit's terms).
	musterRow, field string
	// goal is the MUSTER/REF the project aims for, 0 for none: at least
	// goal for a rate, below goal for a time or a CPU share.
	goal float64
}

// references are the numbers of the earlier runs: Consul 1.22.7 dev agent,
// etcd 3.4 and Redis, on this machine kind (2 cores), and check-cpu's
// budget.
var references = []reference{
	{"kv-put", "Consul 1.22.7 (dev)", 6965, 6965, "ops/s", "puts", "muster", "value", 0},
	{"kv-get", "Consul 1.22.7 (dev)", 14854, 14854, "ops/s", "gets", "muster", "value", 0},
	{"kv-cas", "Consul 1.22.7 (dev)", 1255, 1255, "incr/s", "increments", "muster", "value", 0},
	{"lock-handoff", "Consul 1.22.7 (dev)", 471, 640, "acq/s", "acquisitions", "muster", "value", 0},
	{"lock-handoff", "Consul 1.22.7 (dev)", 471, 640, "acq/s", "acquisitions", "muster(consul-api-lock)", "value", 0},
	{"seckill", "Consul 1.22.7 (dev)", 0.385, 0.385, "s", "sold out in", "muster", "value", 0},
	{"seckill", "Consul 1.22.7 (dev)", 5.1, 5.1, "s", "p99 buy latency", "muster", "p99", 0},
	{"seckill", "Consul 1.22.7 (dev)", 0.385, 0.385, "s", "sold out in", "muster(txn)", "value", 0},
	{"seckill", "Consul 1.22.7 (dev)", 0.385, 0.385, "s", "sold out in", "muster(add)", "value", 0},
	{"watch-wake", "Consul 1.22.7 (dev)", 56, 94, "ms", "1000 watchers all woken", "muster", "value", 0},
	{"reg-dereg", "Consul 1.22.7 (dev)", 2171, 2171, "ops/s", "register or deregister calls", "muster", "value", 3},
	{"health-query", "Consul 1.22.7 (dev)", 50, 50, "q/s", "queries of 1000 instances", "muster", "value", 10},
	{"health-query", "Consul 1.22.7 (dev)", 687, 687, "ms", "p99 query latency", "muster", "p99", 0},
	{"kv-put", "etcd 3.4", 8421, 8421, "ops/s", "puts", "muster", "value", 0},
	{"lock-handoff", "etcd 3.4", 158, 158, "acq/s", "acquisitions", "muster", "value", 0},
	{"watch-wake", "etcd 3.4", 12.5, 12.5, "ms", "p99 wake-up", "muster", "p99", 0},
	{"kv-put", "Redis", 61644, 61644, "ops/s", "puts", "muster", "value", 0},
	{"lock-handoff", "Redis (spin lock)", 6602, 6602, "acq/s", "acquisitions", "muster", "value", 0},
	{"check-cpu", "budget (no peer)", cpuBudget, cpuBudget, "% core", "CPU, 1000 HTTP checks/10s", "muster", "value", 1},
}

// lowerIsBetterUnit reports units where less is better: times and CPU.
func lowerIsBetterUnit(unit string) bool { return unit == "s" || unit == "ms" || unit == "% core" }

// goalText says the goal as a target number and whether now meets it; ""
// without a goal.
func goalText(ref reference, now float64, measured bool) string {
	if ref.goal == 0 {
		return ""
	}
	var text string
	var met bool
	if lowerIsBetterUnit(ref.unit) {
		target := ref.low * ref.goal
		text, met = "<"+fmtValue(target, ref.unit), now < target
	} else {
		target := ref.high * ref.goal
		text, met = fmt.Sprintf("≥%s (%gx)", fmtValue(target, ref.unit), ref.goal), now >= target
	}
	switch {
	case !measured:
		return text
	case met:
		return text + ": met"
	default:
		return text + ": NOT met"
	}
}

// printReferences prints the reference numbers next to muster's. With
// consulInRun the goals relative to a Consul reference are judged in the
// in-run block (printConsulGoals) instead: their GOAL cell points there.
func printReferences(w io.Writer, results []*result, consulInRun bool) {
	fmt.Fprintln(w, "\nREFERENCE numbers from ANOTHER DAY (measured earlier on this machine kind, NOT in this run; this VM's speed")
	fmt.Fprintln(w, "varies up to 3x between days, so these ratios are indicative only) vs muster in this run:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tREFERENCE SYSTEM\tWHAT\tREFERENCE\tMUSTER ROW\tMUSTER NOW\tMUSTER/REF\tGOAL")
	for _, ref := range references {
		refText := fmtRange(ref.low, ref.high, ref.unit)
		now, ok := musterNumber(results, ref)
		goal := goalText(ref, now, ok)
		if consulInRun && goal != "" && strings.HasPrefix(ref.system, "Consul") {
			goal = "see GOALS vs Consul in this run"
		}
		if !ok {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\tnot measured\t\t%s\n", ref.workload, ref.system, ref.what, refText, ref.musterRow, goal)
			continue
		}
		ratio := fmt.Sprintf("%.2fx", now/ref.low)
		if ref.high != ref.low {
			ratio = fmt.Sprintf("%.2f-%.2fx", now/ref.high, now/ref.low)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ref.workload, ref.system, ref.what, refText, ref.musterRow,
			fmtValue(now, ref.unit), ratio, goal)
	}
	tw.Flush()
	fmt.Fprintln(w, "MUSTER/REF: for rates >1 means muster is faster than the reference; for times <1 means faster; for % core <1 means under budget.")
	fmt.Fprintln(w, "GOAL: the project's target for muster in this run's terms; informational, not a correctness check.")
	if consulInRun {
		fmt.Fprintln(w, "Consul ran in this run: its goals are judged against its in-run rows (GOALS vs Consul in this run), not these references.")
	}
}

func fmtRange(low, high float64, unit string) string {
	if low == high {
		return fmtValue(low, unit)
	}
	if unit == "s" || unit == "ms" {
		return fmt.Sprintf("%s-%s %s", sig3(low), sig3(high), unit)
	}
	return fmt.Sprintf("%s-%s %s", fmtNum(low), fmtNum(high), unit)
}

// musterNumber finds muster's number comparable to ref, in ref's unit.
func musterNumber(results []*result, ref reference) (float64, bool) {
	for _, r := range results {
		if r.workload != ref.workload || r.system != ref.musterRow || r.skipped != "" {
			continue
		}
		switch ref.field {
		case "value":
			return r.value, r.unit == ref.unit
		case "p99":
			d := r.lat.p99.Seconds()
			if ref.unit == "ms" {
				d *= 1000
			}
			return d, r.lat.n > 0
		}
	}
	return 0, false
}
