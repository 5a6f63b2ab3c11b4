package cluster

import (
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// Stats is one server's own view of its Raft node: what Consul's servers
// report to their leader (Status.RaftStats) for autopilot's health checks.
// Each server knows these numbers only about itself; a leader learns its
// followers' by asking them.
type Stats struct {
	State        string // "Leader", "Follower", "Candidate" or "Shutdown"
	Term         uint64 // current term
	LastLogIndex uint64 // index of the last entry in the log, or in the snapshot if that is newer
	LastLogTerm  uint64 // term of that entry
	CommitIndex  uint64 // highest index known to be committed
	AppliedIndex uint64 // highest index handed to the FSM
	// LastContact is the time since the leader was last heard from: 0 on
	// the leader, negative when no leader was ever heard from.
	LastContact time.Duration
}

// Stats returns this server's Raft numbers. It does not wait for Raft's
// main loop nor for other servers: it reads Raft's own counters.
func (c *Cluster) Stats() Stats {
	raw := c.raft.Stats()
	state := c.raft.State()
	u := func(key string) uint64 {
		n, _ := strconv.ParseUint(raw[key], 10, 64)
		return n
	}
	st := Stats{
		State:        state.String(),
		Term:         u("term"),
		LastLogIndex: u("last_log_index"),
		LastLogTerm:  u("last_log_term"),
		CommitIndex:  u("commit_index"),
		AppliedIndex: u("applied_index"),
	}
	// A follower that installed the leader's snapshot has its log's tail
	// only in the snapshot until the next entry arrives (Raft's
	// LastIndex() counts both, as Consul's autopilot does for the leader).
	if si := u("last_snapshot_index"); si > st.LastLogIndex {
		st.LastLogIndex, st.LastLogTerm = si, u("last_snapshot_term")
	}
	switch lc := c.raft.LastContact(); {
	case state == raft.Leader:
		st.LastContact = 0
	case lc.IsZero():
		st.LastContact = -1
	default:
		st.LastContact = time.Since(lc)
	}
	return st
}
