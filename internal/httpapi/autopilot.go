package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/musterhq/muster/internal/cluster"
	"github.com/musterhq/muster/internal/forward"
	"github.com/musterhq/muster/internal/gossip"
)

// GET /v1/operator/autopilot/health is Consul's per-server health report.
// Like a Consul leader, the server answering it (the leader: followers
// forward it) asks every other server for its own Raft numbers, here with
// GET /v1/internal/raft-stats on their server port, and judges each one by
// autopilot's rules with Consul's default thresholds. muster runs no
// autopilot loop: the report is made when it is asked for, and StableSince
// is the first time this server's answers saw the current health.

// Autopilot's health thresholds: Consul's defaults. muster has no
// /v1/operator/autopilot/configuration to change them.
const (
	// lastContactThreshold is how long a server may go without hearing
	// from the leader and still be healthy.
	lastContactThreshold = 200 * time.Millisecond
	// maxTrailingLogs is how many entries a server may lag the leader's
	// log by and still be healthy.
	maxTrailingLogs = 250
	// statsTimeout bounds the asking of all servers for their numbers; a
	// server that has not answered by then is reported unhealthy.
	statsTimeout = time.Second
)

// serverHealth is one entry of the health report (Consul's
// api.ServerHealth).
type serverHealth struct {
	ID         string
	Name       string
	Address    string
	SerfStatus string // the server's state in the gossip pool: alive, leaving, left, failed, none
	Version    string
	Leader     bool
	// LastContact is a Go duration string; "-1ns" when the server did not
	// answer or has never heard from a leader.
	LastContact string
	LastTerm    uint64 // term of the last entry of the server's log
	LastIndex   uint64 // index of that entry
	Healthy     bool
	Voter       bool
	StableSince time.Time
	// muster's additions, from the same numbers: the server's commit and
	// applied indexes (0 when it did not answer). Consul's clients ignore
	// them.
	CommitIndex  uint64
	AppliedIndex uint64
}

// operatorHealth is the whole report (Consul's api.OperatorHealthReply).
type operatorHealth struct {
	Healthy          bool // every server is healthy
	FailureTolerance int  // healthy voters that could fail with a quorum left
	Servers          []serverHealth
}

// raftStatsReply answers GET /v1/internal/raft-stats: the answering
// server's ID (the asker checks it reached the server it meant) and its
// Raft numbers.
type raftStatsReply struct {
	ID string
	cluster.Stats
}

// internalRaftStats is GET /v1/internal/raft-stats: this server's own Raft
// numbers, for the leader's health report. The asker adds ?stale so that a
// follower answers it itself instead of forwarding it.
func (s *Server) internalRaftStats(w http.ResponseWriter, r *http.Request) (any, error) {
	if s.cfg.Cluster == nil {
		return nil, badRequest("not a server")
	}
	return raftStatsReply{ID: s.cfg.Agent.NodeID, Stats: s.cfg.Cluster.Stats()}, nil
}

// healthTracker is the state the health report keeps between calls: the
// connections to the other servers and when each server's health last
// changed. Safe for concurrent use.
type healthTracker struct {
	client *http.Client // h2c to the servers' ports; never nil

	mu   sync.Mutex
	seen map[string]stableState // by server ID; guarded by mu
}

type stableState struct {
	healthy bool
	since   time.Time
}

// stableSince records each server's health as of now and sets its
// StableSince: since when it has been so. Servers no longer in the list
// are forgotten.
func (t *healthTracker) stableSince(servers []serverHealth, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	seen := make(map[string]stableState, len(servers))
	for i := range servers {
		sv := &servers[i]
		st, ok := t.seen[sv.ID]
		if !ok || st.healthy != sv.Healthy {
			st = stableState{healthy: sv.Healthy, since: now}
		}
		seen[sv.ID] = st
		sv.StableSince = st.since
	}
	t.seen = seen
}

// operatorAutopilotHealth returns the handler of GET
// /v1/operator/autopilot/health. As in Consul, an unhealthy cluster is
// answered with 429 and the same body, so that a load balancer's check
// sees it.
func (s *Server) operatorAutopilotHealth() handlerFunc {
	tr := &healthTracker{
		client: &http.Client{Transport: &http.Transport{
			// A server whose host vanished sends no reset: give up on
			// it quickly, it is reported unhealthy.
			DialContext:     (&net.Dialer{Timeout: 500 * time.Millisecond}).DialContext,
			Protocols:       forward.ServerProtocols(false),
			IdleConnTimeout: 30 * time.Second,
		}},
		seen: map[string]stableState{},
	}
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		if err := checkDC(r, s.cfg.Agent.Datacenter); err != nil {
			return nil, err
		}
		if s.cfg.Cluster == nil {
			return nil, badRequest("not a server")
		}
		servers, _, err := s.cfg.Cluster.Servers()
		if err != nil {
			return nil, err
		}
		stats := s.serverStats(r.Context(), tr.client, servers)
		out := s.judgeHealth(servers, stats)
		tr.stableSince(out.Servers, time.Now())
		body, err := json.Marshal(out)
		if err != nil {
			return nil, err
		}
		code := http.StatusOK
		if !out.Healthy {
			code = http.StatusTooManyRequests
		}
		return statusBody{code, rawBody{"application/json", append(body, '\n')}}, nil
	}
}

// serverStats gathers every server's own Raft numbers: this server's
// directly, the others' from their server ports, all at once. A server
// that did not answer within statsTimeout is missing from the map.
func (s *Server) serverStats(ctx context.Context, client *http.Client, servers []cluster.Server) map[string]cluster.Stats {
	ctx, cancel := context.WithTimeout(ctx, statsTimeout)
	defer cancel()
	var (
		mu  sync.Mutex
		out = make(map[string]cluster.Stats, len(servers))
		wg  sync.WaitGroup
	)
	for _, srv := range servers {
		if srv.ID == s.cfg.Agent.NodeID {
			st := s.cfg.Cluster.Stats()
			mu.Lock() // goroutines of earlier servers may be writing
			out[srv.ID] = st
			mu.Unlock()
			continue
		}
		wg.Go(func() {
			st, err := fetchRaftStats(ctx, client, srv)
			if err != nil {
				s.cfg.Logger.Debug("autopilot: server stats", "server", srv.ID, "err", err)
				return
			}
			mu.Lock()
			out[srv.ID] = st
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// fetchRaftStats asks one server for its Raft numbers.
func fetchRaftStats(ctx context.Context, client *http.Client, srv cluster.Server) (cluster.Stats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+srv.Address+InternalPrefix+"raft-stats?stale", nil)
	if err != nil {
		return cluster.Stats{}, fmt.Errorf("httpapi: raft stats of %s: %w", srv.ID, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return cluster.Stats{}, fmt.Errorf("httpapi: raft stats of %s: %w", srv.ID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return cluster.Stats{}, fmt.Errorf("httpapi: raft stats of %s: %s", srv.ID, resp.Status)
	}
	var reply raftStatsReply
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil {
		return cluster.Stats{}, fmt.Errorf("httpapi: raft stats of %s: %w", srv.ID, err)
	}
	if reply.ID != srv.ID {
		return cluster.Stats{}, fmt.Errorf("httpapi: raft stats of %s: %s answered at %s", srv.ID, reply.ID, srv.Address)
	}
	return reply.Stats, nil
}

// judgeHealth applies autopilot's rules: a server is healthy when it is
// alive in the gossip pool, heard from the leader within
// lastContactThreshold, has the leader's last term in its log, and trails
// the leader's log by at most maxTrailingLogs entries. Without the
// leader's numbers no server can be judged healthy.
func (s *Server) judgeHealth(servers []cluster.Server, stats map[string]cluster.Stats) operatorHealth {
	members := s.serverMembers()
	names := s.catalogNames()
	var leader *cluster.Stats
	for _, srv := range servers {
		if st, ok := stats[srv.ID]; ok && srv.Leader {
			leader = &st
		}
	}
	out := operatorHealth{Healthy: true, Servers: make([]serverHealth, 0, len(servers))}
	voters, healthyVoters := 0, 0
	for _, srv := range servers {
		sh := serverHealth{ID: srv.ID, Name: srv.ID, Address: srv.Address, SerfStatus: gossip.StatusNone.String(),
			Leader: srv.Leader, Voter: srv.Voter, LastContact: time.Duration(-1).String()}
		if n := names[srv.ID]; n != "" {
			sh.Name = n
		}
		if m, ok := members[srv.ID]; ok {
			sh.Name, sh.SerfStatus, sh.Version = m.Name, m.Status.String(), m.Tags["build"]
		}
		st, known := stats[srv.ID]
		if known {
			sh.LastTerm, sh.LastIndex = st.LastLogTerm, st.LastLogIndex
			sh.CommitIndex, sh.AppliedIndex = st.CommitIndex, st.AppliedIndex
			if st.LastContact >= 0 {
				sh.LastContact = st.LastContact.String()
			}
		}
		sh.Healthy = known && leader != nil && sh.SerfStatus == gossip.StatusAlive.String() &&
			st.LastContact >= 0 && st.LastContact <= lastContactThreshold &&
			st.LastLogTerm == leader.LastLogTerm &&
			st.LastLogIndex+maxTrailingLogs >= leader.LastLogIndex
		out.Healthy = out.Healthy && sh.Healthy
		if srv.Voter {
			voters++
			if sh.Healthy {
				healthyVoters++
			}
		}
		out.Servers = append(out.Servers, sh)
	}
	// How many healthy voters may fail with a quorum of the voters left.
	out.FailureTolerance = max(0, healthyVoters-(voters/2+1))
	return out
}

// serverMembers are the gossip pool's members by server ID (their "id"
// tag). Without a pool (-dev with gossip off) this agent is the only one,
// and alive, since it is answering.
func (s *Server) serverMembers() map[string]gossip.Member {
	if s.cfg.Gossip == nil {
		a := s.cfg.Agent
		return map[string]gossip.Member{a.NodeID: {Name: a.NodeName, Status: gossip.StatusAlive,
			Tags: map[string]string{"build": a.Version}}}
	}
	out := map[string]gossip.Member{}
	for _, m := range s.cfg.Gossip.Members() {
		if id := m.Tags["id"]; id != "" && m.Tags["role"] == "consul" {
			out[id] = m
		}
	}
	return out
}

// catalogNames maps node IDs to node names from the catalog, where the
// leader keeps every member (a server that left the pool keeps its name).
func (s *Server) catalogNames() map[string]string {
	names := map[string]string{s.cfg.Agent.NodeID: s.cfg.Agent.NodeName}
	if _, nodes, err := s.store().Nodes(nil); err == nil {
		for _, n := range nodes {
			if n.ID != "" && names[n.ID] == "" {
				names[n.ID] = n.Node
			}
		}
	}
	return names
}
