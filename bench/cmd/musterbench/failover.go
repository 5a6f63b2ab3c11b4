package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	// failoverAttempt bounds one attempt of the failover writer, which
	// retries at once after an error, a timeout or a refusal.
	failoverAttempt = 300 * time.Millisecond
	// failoverGiveUp fails a round whose writer got nothing acknowledged
	// this long after the kill: writes never resumed.
	failoverGiveUp = 30 * time.Second
	// recoverTimeout bounds a round's recovery: from the restart until the
	// cluster is healthy and the restarted node caught up.
	recoverTimeout = time.Minute
	failoverPrefix = "bench/failover/"
)

// failover (-cluster): -failover-rounds times, find the leader, write a
// key through it ("before": acknowledged by the node about to die), SIGKILL
// it, and time from the kill until a writer on a surviving node (the one
// after the leader) has a write acknowledged ("after"); each attempt gets
// 300 ms and is retried at once on any error. Then restart the killed node
// with the same flags and data dir, and wait until all three agree on a
// leader, list three voters, and the restarted node holds the "after" key
// in its own state. The headline is the p50. Checks: writes resumed within
// 30 s and the cluster recovered within a minute in every round, and after
// the last round every acknowledged write reads back (linearizable, through
// node 0): nothing acknowledged was lost.
func failover(ctx context.Context, e *env) []*result {
	var out []*result
	if e.mc != nil {
		out = append(out, runFailover(ctx, e, "muster", e.mc))
	}
	if e.ec != nil {
		out = append(out, runFailover(ctx, e, "etcd", e.ec))
	}
	if len(out) == 2 && out[0].lat.n > 0 && out[1].lat.n > 0 {
		m, p := out[0].lat, out[1].lat
		out[1].note("muster/etcd: p50 %.2fx, p90 %.2fx, max %.2fx (<1: muster recovers faster)",
			m.p50.Seconds()/p.p50.Seconds(), m.p90.Seconds()/p.p90.Seconds(), m.max.Seconds()/p.max.Seconds())
	}
	return out
}

// failoverRound is what one round measured.
type failoverRound struct {
	leader    int           // the node killed
	reaped    time.Duration // SIGKILL until the process was gone
	took      time.Duration // kill until the first acknowledged write
	attempts  int           // write attempts until then
	log       []string      // each attempt: its time and outcome
	recovered time.Duration // restart until healthy and caught up
}

func runFailover(ctx context.Context, e *env, system string, c failoverCluster) *result {
	r := newResult("failover", system, "s", "kill → write")
	r.lowerIsBetter = true
	acked := map[string]string{}
	var took, recovered latencies
	var slowest failoverRound
	attempts := 0
	killed := make([]int, clusterSize)
	for round := range e.cfg.failoverRounds {
		if ctx.Err() != nil {
			r.fail("interrupted: %v", ctx.Err())
			break
		}
		fr, err := runFailoverRound(ctx, c, round, acked)
		if err != nil {
			r.fail("round %d: %v", round+1, err)
			break
		}
		took, recovered = append(took, fr.took), append(recovered, fr.recovered)
		attempts += fr.attempts
		killed[fr.leader]++
		if fr.took > slowest.took {
			slowest = fr
		}
		fmt.Fprintf(e.progress, "   %s round %d: killed leader %s, write acknowledged after %s (%d attempts), recovered in %s\n",
			system, round+1, c.node(fr.leader).name, fmtDur(fr.took), fr.attempts, fmtDur(fr.recovered))
	}
	r.lat = took.summarize()
	r.value = r.lat.p50.Seconds()
	if r.lat.n > 0 {
		rs := recovered.summarize()
		r.note("%d rounds: kill → first acknowledged write p50 %s, p90 %s, max %s; %d write attempts (%.1f per round)",
			r.lat.n, fmtDur(r.lat.p50), fmtDur(r.lat.p90), fmtDur(r.lat.max), attempts, float64(attempts)/float64(r.lat.n))
		r.note("restart of the killed node → healthy (3 voters, one leader, restarted node has the last write): p50 %s, max %s",
			fmtDur(rs.p50), fmtDur(rs.max))
		var who []string
		for i, n := range killed {
			who = append(who, fmt.Sprintf("%s %d", c.node(i).name, n))
		}
		r.note("leaders killed: %s", strings.Join(who, ", "))
		r.note("slowest round: %s killed (gone %s after SIGKILL), attempts through %s: %s", c.node(slowest.leader).name,
			fmtDur(slowest.reaped), c.node((slowest.leader+1)%clusterSize).name, strings.Join(slowest.log, ", "))
	}
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got, err := c.readAll(vctx, failoverPrefix)
	if r.check(err == nil, "read back the acknowledged writes: %v", err) {
		var lost []string
		for k, v := range acked {
			if got[k] != v {
				lost = append(lost, fmt.Sprintf("%s=%q", k, got[k]))
			}
		}
		slices.Sort(lost)
		if r.check(len(lost) == 0, "%d of %d acknowledged writes lost or changed: %s", len(lost), len(acked),
			strings.Join(lost[:min(len(lost), 5)], " ")) {
			r.note("all %d acknowledged writes read back after the last round", len(acked))
		}
	}
	return r
}

// runFailoverRound kills the leader once, times the writes' return, and
// brings the node back. Acknowledged writes go into acked.
func runFailoverRound(ctx context.Context, c failoverCluster, round int, acked map[string]string) (failoverRound, error) {
	var fr failoverRound
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	leader, err := c.healthy(hctx)
	if err != nil {
		return fr, fmt.Errorf("before the kill: %w", err)
	}
	fr.leader = leader
	key, val := fmt.Sprintf("%s%03d/", failoverPrefix, round), fmt.Sprintf("round %d", round)
	if err := c.put(hctx, leader, key+"before", val); err != nil {
		return fr, fmt.Errorf("write through the leader before the kill: %w", err)
	}
	acked[key+"before"] = val

	writer := (leader + 1) % clusterSize
	start := time.Now()
	c.node(leader).kill()
	fr.reaped = time.Since(start)
	var last error
	for {
		if time.Since(start) > failoverGiveUp {
			return fr, fmt.Errorf("no write acknowledged through %s within %v of killing the leader %s (%d attempts); last error: %v%s",
				c.node(writer).name, failoverGiveUp, c.node(leader).name, fr.attempts, last, c.tails())
		}
		actx, acancel := context.WithTimeout(ctx, failoverAttempt)
		t := time.Now()
		err := c.put(actx, writer, key+"after", val)
		acancel()
		fr.attempts++
		fr.log = append(fr.log, fmt.Sprintf("+%s %s %s", fmtDur(t.Sub(start)), fmtDur(time.Since(t)), attemptOutcome(err)))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fr, ctx.Err()
		}
		last = err
	}
	fr.took = time.Since(start)
	acked[key+"after"] = val

	start = time.Now()
	if err := c.restart(leader); err != nil {
		return fr, fmt.Errorf("restart %s: %w", c.node(leader).name, err)
	}
	err = poll(ctx, recoverTimeout, 50*time.Millisecond, func(ctx context.Context) error {
		if _, err := c.healthy(ctx); err != nil {
			return err
		}
		v, err := c.localGet(ctx, leader, key+"after")
		switch {
		case err != nil:
			return fmt.Errorf("restarted %s: read %s: %w", c.node(leader).name, key+"after", err)
		case v != val:
			return fmt.Errorf("restarted %s: %s is %q, want %q", c.node(leader).name, key+"after", v, val)
		}
		return nil
	})
	if err != nil {
		return fr, fmt.Errorf("recovery after restarting %s: %w%s", c.node(leader).name, err, c.tails())
	}
	fr.recovered = time.Since(start)
	return fr, nil
}

// attemptOutcome says briefly how a write attempt ended.
func attemptOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded:
		return "timeout"
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return fmt.Sprintf("error (%s)", s)
}
