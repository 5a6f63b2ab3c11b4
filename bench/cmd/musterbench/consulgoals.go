package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
	"time"
)

// consulGoal is one of issue 3's performance goals, judged on rows of this
// run: muster's row against a peer's row (Consul's, or Redis's for the spin
// lock) as a ratio, or an absolute bound on muster's own number, with the
// peer's printed next to it for comparison.
type consulGoal struct {
	workload, what     string
	musterRow, peerRow string
	field              string        // "value" (the headline) or "p99"
	ratio              float64       // muster ≥ ratio × peer (rates); 0 for a bound
	bound              time.Duration // muster ≤ bound (times); 0 for a ratio
}

// consulGoals are issue 3's goals: kv-put ≥ 3×, kv-get ≥ 2×, kv-cas ≥ 3×,
// lock-handoff ≥ 10× Consul and ≥ Redis's spin lock, seckill sold out
// ≤ 40 ms, watch-wake p99 ≤ 10 ms (1000 watchers), reg-dereg ≥ 3×,
// health-query ≥ 10×. seckill and health-query list each muster variant
// with its nearest Consul row.
var consulGoals = []consulGoal{
	{"kv-put", "puts", "muster", "consul", "value", 3, 0},
	{"kv-get", "gets", "muster", "consul", "value", 2, 0},
	{"kv-cas", "CAS increments", "muster", "consul", "value", 3, 0},
	{"lock-handoff", "lock acquisitions", "muster", "consul", "value", 10, 0},
	{"lock-handoff", "lock acquisitions vs spin lock", "muster", "redis", "value", 1, 0},
	{"seckill", "sold out, lock", "muster", "consul", "value", 0, 40 * time.Millisecond},
	{"seckill", "sold out, check-and-set txn", "muster(txn)", "consul(txn)", "value", 0, 40 * time.Millisecond},
	{"seckill", "sold out, add txn", "muster(add)", "consul(txn)", "value", 0, 40 * time.Millisecond},
	{"watch-wake", "p99 wake-up", "muster", "consul", "p99", 0, 10 * time.Millisecond},
	{"reg-dereg", "register or deregister calls", "muster", "consul", "value", 3, 0},
	{"health-query", "queries, client decodes", "muster", "consul", "value", 10, 0},
	{"health-query", "queries, no decode", "muster(no-decode)", "consul(no-decode)", "value", 10, 0},
}

// printConsulGoals prints every goal of consulGoals with muster's number,
// the peer's, their ratio and the verdict. Informational, like the other
// goal blocks: a missed goal is not a FAIL.
func printConsulGoals(w io.Writer, results []*result) {
	fmt.Fprintln(w, "\nGOALS vs Consul in this run (issue 3; informational, not correctness checks):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tWHAT\tMUSTER ROW\tMUSTER\tPEER ROW\tPEER\tMUSTER/PEER\tGOAL")
	for _, g := range consulGoals {
		fmt.Fprintln(tw, g.line(results))
	}
	tw.Flush()
	fmt.Fprintln(w, "MUSTER/PEER: for rates >1 means muster is faster; for times <1 means muster is faster.")
	fmt.Fprintln(w, "≥ goals compare with the peer row of this run; ≤ goals are absolute, judged on muster's own number.")
}

// line is the goal's tab-separated row of the block.
func (g consulGoal) line(results []*result) string {
	mr, pr := findRow(results, g.workload, g.musterRow), findRow(results, g.workload, g.peerRow)
	m, mUnit, mok := goalNumber(mr, g.field)
	p, pUnit, pok := goalNumber(pr, g.field)
	pok = pok && (!mok || pUnit == mUnit)
	muster, peer, ratio := "not measured", "not measured", ""
	if mok {
		muster = fmtValue(m, mUnit)
	}
	if pok {
		peer = fmtValue(p, pUnit)
	}
	if mok && pok {
		ratio = fmt.Sprintf("%.2fx", m/p)
	}
	cells := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t", g.workload, g.what, g.musterRow, muster, g.peerRow, peer, ratio)
	return cells + g.verdict(m, mUnit, mok, p, pok, mr, pr)
}

// verdict is the GOAL cell: the target, then met or NOT met, or why there
// is no verdict; "(a row FAILed)" when a row it rests on failed a check.
func (g consulGoal) verdict(m float64, unit string, mok bool, p float64, pok bool, mr, pr *result) string {
	var met bool
	switch {
	case !mok:
		return g.target()
	case g.ratio > 0 && !pok:
		return g.target() + ": " + g.peerRow + " not measured"
	case g.ratio > 0:
		met = m >= g.ratio*p
	default:
		met = asDuration(m, unit) <= g.bound
	}
	text := g.target() + ": " + metText(met)
	if len(mr.fails) > 0 || (g.ratio > 0 && len(pr.fails) > 0) {
		text += " (a row FAILed)"
	}
	return text
}

// target says the goal: "≥3x consul", "≤40 ms".
func (g consulGoal) target() string {
	if g.ratio > 0 {
		return fmt.Sprintf("≥%gx %s", g.ratio, g.peerRow)
	}
	return "≤" + strconv.FormatFloat(float64(g.bound)/float64(time.Millisecond), 'g', -1, 64) + " ms"
}

// asDuration turns a number in unit "s" or "ms" into a duration; other
// units, which no bound applies to, are the longest duration (never met).
func asDuration(v float64, unit string) time.Duration {
	switch unit {
	case "s":
		return time.Duration(v * float64(time.Second))
	case "ms":
		return time.Duration(v * float64(time.Millisecond))
	}
	return math.MaxInt64
}
