package httpapi

import (
	"net/http"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/musterhq/muster/internal/state"
)

// lockWaiter is one place in a fair lock's queue as GET /v1/lock/waiters
// answers it (a muster extension: Consul has no queue to show).
type lockWaiter struct {
	Key      string    // the key waited for
	Session  string    // the waiting session
	Position int       // 1 for the first in line of its key
	Since    uint64    // Raft index at which the session joined the queue
	Deadline time.Time // when the waiter gives up unless granted before
}

// lockWaiters answers GET /v1/lock/waiters/{key...}: the sessions queued
// for the key (acquire=S&wait=D), first in line first, and with ?recurse
// the queues of every key under that prefix, grouped by key. A key with no
// queue, or no such key, answers []. It is a blocking query on the queue
// table (?index, ?wait); a reader of one key wakes only when that key's
// queue changes.
func (s *Server) lockWaiters(w http.ResponseWriter, r *http.Request) (any, error) {
	key, err := kvKey(r)
	if err != nil {
		return nil, err
	}
	o, err := parseQuery(r, s.cfg.Agent.Datacenter)
	if err != nil {
		return nil, err
	}
	_, recurse := query(r)["recurse"]
	var queue []*state.LockWaiter
	err = s.blockingQuery(w, r, o, func(ws memdb.WatchSet, st *state.Store) (uint64, error) {
		idx, q, err := st.LockQueue(ws, key, recurse)
		queue = q
		return idx, err
	})
	if err != nil {
		return nil, err
	}
	out := make([]lockWaiter, 0, len(queue))
	pos := 0
	for i, lw := range queue {
		if i == 0 || queue[i-1].Key != lw.Key {
			pos = 0
		}
		pos++
		out = append(out, lockWaiter{
			Key:      lw.Key,
			Session:  lw.Session,
			Position: pos,
			Since:    lw.Seq,
			Deadline: time.Unix(0, lw.Deadline).UTC(),
		})
	}
	return out, nil
}
