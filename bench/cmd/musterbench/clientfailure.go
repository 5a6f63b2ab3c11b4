package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

const (
	// clientJoinTimeout bounds the wait for a new client agent's
	// serfHealth check to pass.
	clientJoinTimeout = 30 * time.Second
	// clientDetectTimeout fails a round whose killed client is not
	// critical this long after the kill.
	clientDetectTimeout = 30 * time.Second
	// clientPoll is how often the check's status is read.
	clientPoll = 50 * time.Millisecond
	// clientFailureGoal is the project's goal for the detection.
	clientFailureGoal = 3 * time.Second
)

// clientFailure (-cluster, muster only): -client-failure-rounds times,
// start a client agent (no -server, its own data dir, -retry-join to one
// server's gossip port, rotating), wait until its node's serfHealth check
// passes in GET /v1/health/node/NAME on a server (another one than it
// joined, read through the leader) and every server's own pool lists it
// alive (GET /v1/agent/members), SIGKILL it, and time until that check is
// critical, polled every 50 ms. A new client (c1, c2, ...) each round.
// The headline is the p50. Checks: every client joined within 30 s and
// was detected within 30 s. etcd has no client agents: its row is n/a.
func clientFailure(ctx context.Context, e *env) []*result {
	var out []*result
	if e.mc != nil {
		out = append(out, runClientFailure(ctx, e, e.mc))
	}
	if e.ec != nil {
		r := newResult("client-failure", "etcd", "s", "")
		r.skipped = "n/a: etcd has no client agents or node health checks"
		out = append(out, r)
	}
	return out
}

func runClientFailure(ctx context.Context, e *env, mc *musterCluster) *result {
	r := newResult("client-failure", "muster", "s", "kill → critical")
	r.lowerIsBetter = true
	var took, joined latencies
	for i := range e.cfg.clientRounds {
		if ctx.Err() != nil {
			r.fail("interrupted: %v", ctx.Err())
			break
		}
		d, j, err := clientFailureRound(ctx, mc, i)
		if err != nil {
			r.fail("client c%d: %v", i+1, err)
			break
		}
		took, joined = append(took, d), append(joined, j)
		fmt.Fprintf(e.progress, "   muster client c%d: passing and known to all servers %s after start, critical %s after SIGKILL\n", i+1, fmtDur(j), fmtDur(d))
	}
	r.lat = took.summarize()
	r.value = r.lat.p50.Seconds()
	if r.lat.n > 0 {
		js := joined.summarize()
		r.note("%d client agents killed: SIGKILL → serfHealth critical p50 %s, max %s; start → passing and known to all servers p50 %s, max %s",
			r.lat.n, fmtDur(r.lat.p50), fmtDur(r.lat.max), fmtDur(js.p50), fmtDur(js.max))
	}
	return r
}

// clientFailureRound starts client agent c<i+1>, waits until it is
// healthy, kills it and times the detection. It returns the detection and
// the join times.
func clientFailureRound(ctx context.Context, mc *musterCluster, i int) (time.Duration, time.Duration, error) {
	name := fmt.Sprintf("c%d", i+1)
	ports, err := freePorts(2)
	if err != nil {
		return 0, 0, err
	}
	data := filepath.Join(mc.dir, "muster-"+name+"-data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return 0, 0, err
	}
	joinTo, watcher := mc.servers[i%clusterSize], mc.servers[(i+1)%clusterSize]
	start := time.Now()
	p, err := startProc("muster-"+name, mc.dir, mc.bin, "agent", "-data-dir="+data, "-node="+name,
		"-bind=127.0.0.1", "-client=127.0.0.1", "-serf-lan-port="+strconv.Itoa(ports[0]),
		"-http-port="+strconv.Itoa(ports[1]), "-dns-port=-1", "-log-level=warn", "-retry-join="+joinTo.serfAddr)
	if err != nil {
		return 0, 0, err
	}
	defer p.kill()
	err = p.waitReady(ctx, clientJoinTimeout, func(ctx context.Context) error {
		return wantSerfHealth(ctx, watcher.c, name, "passing")
	})
	if err == nil {
		// Only members that know the client probe it and confirm its
		// failure: one killed while its join has not reached the other
		// servers' pools is suspected by a single server, whose suspicion
		// then runs memberlist's longest timeout (see README).
		err = p.waitReady(ctx, clientJoinTimeout, func(ctx context.Context) error {
			for _, s := range mc.servers {
				if err := wantMember(ctx, s.c, name); err != nil {
					return fmt.Errorf("%s: %w", s.name, err)
				}
			}
			return nil
		})
	}
	if err != nil {
		return 0, 0, fmt.Errorf("join through %s: %w", joinTo.name, err)
	}
	join := time.Since(start)
	start = time.Now()
	p.kill()
	err = poll(ctx, clientDetectTimeout, clientPoll, func(ctx context.Context) error {
		return wantSerfHealth(ctx, watcher.c, name, "critical")
	})
	if err != nil {
		return 0, join, fmt.Errorf("after SIGKILL: %w%s", err, mc.tails())
	}
	return time.Since(start), join, nil
}

// wantMember returns nil when c's own gossip pool (GET /v1/agent/members,
// answered by the agent itself) lists node as alive.
func wantMember(ctx context.Context, c *musterClient, node string) error {
	_, b, err := c.do(ctx, http.MethodGet, "/v1/agent/members", nil)
	if err != nil {
		return err
	}
	var ms []struct {
		Name   string
		Status int // serf's code: 1 alive
	}
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("GET /v1/agent/members: %q: %v", b, err)
	}
	for _, m := range ms {
		if m.Name == node {
			if m.Status != 1 {
				return fmt.Errorf("member %s has status %d, want 1 (alive)", node, m.Status)
			}
			return nil
		}
	}
	return fmt.Errorf("member %s not in its pool yet", node)
}

// wantSerfHealth returns nil when node's serfHealth check has status in
// GET /v1/health/node/NODE on c (a default read: the leader answers).
func wantSerfHealth(ctx context.Context, c *musterClient, node, status string) error {
	p := "/v1/health/node/" + url.PathEscape(node)
	_, b, err := c.do(ctx, http.MethodGet, p, nil)
	if err != nil {
		return err
	}
	var checks []struct{ CheckID, Status, Output string }
	if err := json.Unmarshal(b, &checks); err != nil {
		return fmt.Errorf("GET %s: %q: %v", p, b, err)
	}
	for _, ch := range checks {
		if ch.CheckID == "serfHealth" {
			if ch.Status != status {
				return fmt.Errorf("GET %s: serfHealth is %s (%q), want %s", p, ch.Status, ch.Output, status)
			}
			return nil
		}
	}
	return fmt.Errorf("GET %s: no serfHealth check: %s", p, b)
}
