package httpapi

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/musterhq/muster/internal/state"
)

// Blocking query bounds, Consul's.
const (
	defaultWait = 5 * time.Minute
	maxWait     = 10 * time.Minute
)

// queryOpts are the read options every GET accepts.
type queryOpts struct {
	minIndex   uint64
	wait       time.Duration
	consistent bool
	stale      bool
	cached     bool
}

func parseQuery(r *http.Request, dc string) (queryOpts, error) {
	q := query(r)
	var o queryOpts
	if err := checkDC(r, dc); err != nil {
		return o, err
	}
	if v := q.Get("index"); v != "" {
		idx, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return o, badRequest("Invalid index %q", v)
		}
		o.minIndex = idx
	}
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return o, badRequest("Invalid wait time %q", v)
		}
		o.wait = d
	}
	_, o.consistent = q["consistent"]
	_, o.stale = q["stale"]
	_, o.cached = q["cached"]
	if o.consistent && o.stale {
		return o, badRequest("Cannot specify ?stale with ?consistent, conflicting semantics.")
	}
	return o, nil
}

// checkDC refuses a ?dc= other than ours: muster serves one datacenter.
func checkDC(r *http.Request, dc string) error {
	if v := query(r).Get("dc"); v != "" && v != dc {
		return &httpError{http.StatusInternalServerError, CodeNotFound, "No path to datacenter"}
	}
	return nil
}

// queryFunc runs one read against st, arming ws to fire when its result may
// change, and returns the result's index.
type queryFunc func(ws memdb.WatchSet, st *state.Store) (uint64, error)

// readyHold is how long a read waits for a new leader to catch up
// (Consul's rpc_hold_timeout).
const readyHold = 7 * time.Second

// blockingQuery runs fn and, when the request carries ?index=N, re-runs it
// each time its watches fire until the index differs from N, the wait (plus up to
// 1/16 jitter, as in Consul) runs out, the client goes away, or the store is
// replaced by a snapshot restore. It sets the index and consistency headers.
// A read that is not ?stale on a leader that has not yet applied what was
// committed before its term waits for it first.
func (s *Server) blockingQuery(w http.ResponseWriter, r *http.Request, o queryOpts, fn queryFunc) error {
	if !o.stale && !s.cfg.Cluster.Ready() {
		// A new leader answers only once it has applied everything
		// committed before its term; held up to the forwarding hold time.
		rctx, cancel := context.WithTimeout(r.Context(), readyHold)
		err := s.cfg.Cluster.WaitReady(rctx)
		cancel()
		if err != nil {
			return err
		}
	}
	if o.consistent {
		if err := s.cfg.Cluster.VerifyLeader(); err != nil {
			return err
		}
	}
	ctx := r.Context()
	if o.minIndex > 0 {
		wait := o.wait
		if wait == 0 || wait > maxWait {
			wait = defaultWait
			if o.wait > maxWait {
				wait = maxWait
			}
		}
		wait += rand.N(wait/16 + 1)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	var idx uint64
	for {
		st := s.store()
		var ws memdb.WatchSet // nil: a read that will not block arms no watches
		if o.minIndex > 0 {
			ws = memdb.NewWatchSet()
			ws.Add(st.AbandonCh())
		}
		var err error
		if idx, err = fn(ws, st); err != nil {
			return err
		}
		idx = max(idx, 1) // what setIndex will send
		// Answer when the result moved past the client's index, or moved
		// below it: a restore from a snapshot rewinds indexes, and a client
		// that kept waiting for the old index would wait out its whole wait.
		// (The answer is never 0, so the client cannot spin.)
		if o.minIndex == 0 || idx != o.minIndex {
			break
		}
		if ws.WatchCtx(ctx) != nil {
			break // timed out or the client left: answer with what we have
		}
		if s.store() != st {
			// Restored from a snapshot: answer now so the client re-reads,
			// even if the index went backwards.
			if idx, err = fn(nil, s.store()); err != nil {
				return err
			}
			break
		}
	}
	setIndex(w, idx)
	s.setConsistency(w, o)
	return nil
}

// setConsistency sets the headers Consul clients read into QueryMeta.
func (s *Server) setConsistency(w http.ResponseWriter, o queryOpts) {
	h := w.Header()
	known := s.cfg.Cluster.Leader() != ""
	h.Set("X-Consul-KnownLeader", strconv.FormatBool(known))
	h.Set("X-Consul-LastContact", strconv.FormatInt(s.cfg.Cluster.LastContact().Milliseconds(), 10))
	if o.cached {
		// Consul's agent cache: muster's agents answer from their own
		// replica, which is always current, so every ?cached read is a
		// hit of age 0.
		h.Set("X-Cache", "HIT")
		h.Set("Age", "0")
	}
	switch {
	case o.consistent:
		h.Set("X-Consul-Effective-Consistency", "consistent")
	case o.stale:
		h.Set("X-Consul-Effective-Consistency", "stale")
	default:
		h.Set("X-Consul-Effective-Consistency", "leader")
	}
}
