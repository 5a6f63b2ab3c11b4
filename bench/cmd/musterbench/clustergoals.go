package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// clusterGoal is one of the project's goals for the muster cluster,
// printed under the -cluster table: muster's row against etcd's row of the
// same run (ratio), or an absolute bound on a time (bound).
type clusterGoal struct {
	workload, what string
	field          string        // "value" (the headline), "p50" or "max"
	ratio          float64       // muster ≥ ratio × etcd; 0 for a bound
	bound          time.Duration // muster ≤ bound; 0 for a ratio
}

var clusterGoals = []clusterGoal{
	{"kv-put", "durable puts", "value", 2, 0},
	{"lock-handoff", "fair-lock acquisitions", "value", 10, 0},
	{"failover", "leader kill → write acknowledged, p50", "p50", 0, time.Second},
	{"failover", "leader kill → write acknowledged, max", "max", 0, 2 * time.Second},
	{"client-failure", "client kill → serfHealth critical, p50", "p50", 0, clientFailureGoal},
	{"client-failure", "client kill → serfHealth critical, max", "max", 0, clientFailureGoal},
}

// printClusterGoals prints each goal with muster's number, etcd's for
// comparison, and whether muster met it.
func printClusterGoals(w io.Writer, results []*result) {
	fmt.Fprintln(w, "\nGOALS for the muster cluster (informational, not correctness checks):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tWHAT\tMUSTER\tETCD\tMUSTER/ETCD\tGOAL")
	for _, g := range clusterGoals {
		m, mUnit, mok := goalNumber(findRow(results, g.workload, "muster"), g.field)
		p, pUnit, pok := goalNumber(findRow(results, g.workload, "etcd"), g.field)
		if !mok {
			fmt.Fprintf(tw, "%s\t%s\tnot measured\t\t\t%s\n", g.workload, g.what, g.target())
			continue
		}
		etcd, ratio := "n/a", ""
		if pok && pUnit == mUnit {
			etcd = fmtValue(p, pUnit)
			if p > 0 {
				ratio = fmt.Sprintf("%.2fx", m/p)
			}
		}
		var met bool
		switch {
		case g.ratio > 0 && !(pok && p > 0):
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s: etcd not measured\n", g.workload, g.what, fmtValue(m, mUnit), etcd, ratio, g.target())
			continue
		case g.ratio > 0:
			met = m >= g.ratio*p
		default:
			met = m <= g.bound.Seconds()
		}
		verdict := "met"
		if !met {
			verdict = "NOT met"
		}
		if r := findRow(results, g.workload, "muster"); len(r.fails) > 0 {
			verdict += " (the row FAILed)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s: %s\n", g.workload, g.what, fmtValue(m, mUnit), etcd, ratio, g.target(), verdict)
	}
	tw.Flush()
	fmt.Fprintln(w, "MUSTER/ETCD: for rates >1 means muster is faster; for times <1 means muster is faster.")
}

// target says the goal: "≥2x etcd", "≤1 s".
func (g clusterGoal) target() string {
	if g.ratio > 0 {
		return fmt.Sprintf("≥%gx etcd", g.ratio)
	}
	return fmt.Sprintf("≤%g s", g.bound.Seconds())
}

// findRow is the row of workload and system, nil if none.
func findRow(results []*result, workload, system string) *result {
	for _, r := range results {
		if r.workload == workload && r.system == system {
			return r
		}
	}
	return nil
}

// goalNumber is a row's number for field, with its unit: "value" is the
// headline in the row's unit; "p50" and "max" are latencies in s; "p99"
// is in ms for a row measured in ms, else in s. false when the row is
// missing, n/a or has no sample.
func goalNumber(r *result, field string) (float64, string, bool) {
	if r == nil || r.skipped != "" {
		return 0, "", false
	}
	switch field {
	case "value":
		return r.value, r.unit, r.value > 0
	case "p50":
		return r.lat.p50.Seconds(), "s", r.lat.n > 0
	case "p99":
		if r.unit == "ms" {
			return float64(r.lat.p99) / float64(time.Millisecond), "ms", r.lat.n > 0
		}
		return r.lat.p99.Seconds(), "s", r.lat.n > 0
	case "max":
		return r.lat.max.Seconds(), "s", r.lat.n > 0
	}
	return 0, "", false
}
