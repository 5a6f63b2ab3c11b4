package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-memdb"

	"github.com/musterhq/muster/internal/fsm"
	"github.com/musterhq/muster/internal/state"
)

// HeaderFencingToken carries the fencing token of a successful acquire.
const HeaderFencingToken = "X-Muster-Fencing-Token"

// maxKeyLen bounds a key's length in bytes.
const maxKeyLen = 2048

// validateKey enforces muster's key rules: valid UTF-8, at most maxKeyLen
// bytes, no NUL or other control characters.
func validateKey(key string) error {
	if len(key) > maxKeyLen {
		return badRequest("Key is %d bytes, over the %d-byte limit", len(key), maxKeyLen)
	}
	if !utf8.ValidString(key) {
		return badRequest("Key is not valid UTF-8")
	}
	for _, c := range key {
		if c < 0x20 || c == 0x7f {
			return badRequest("Key contains control character %U", c)
		}
	}
	return nil
}

func kvKey(r *http.Request) (string, error) {
	key := r.PathValue("key")
	return key, validateKey(key)
}

func (s *Server) kvGet(w http.ResponseWriter, r *http.Request) (any, error) {
	key, err := kvKey(r)
	if err != nil {
		return nil, err
	}
	o, err := parseQuery(r, s.cfg.Agent.Datacenter)
	if err != nil {
		return nil, err
	}
	q := query(r)
	if _, ok := q["keys"]; ok {
		sep := q.Get("separator")
		if _, ok := q["seperator"]; ok && sep == "" { // Consul's historic spelling
			sep = q.Get("seperator")
		}
		var keys []string
		ck := respKey{query: cacheQuery(r)}
		err := s.blockingQuery(w, r, o, func(ws memdb.WatchSet, st *state.Store) (uint64, error) {
			idx, k, err := st.KVKeys(ws, key, sep)
			keys, ck.st, ck.idx, ck.reaps = k, st, idx, st.Reaps()
			return idx, err
		})
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			return notFound{}, nil
		}
		return s.cache.answer(w, r, ck, func() (any, error) { return keys, nil })
	}
	if _, ok := q["recurse"]; ok {
		var entries []*state.KVEntry
		ck := respKey{query: cacheQuery(r)}
		err := s.blockingQuery(w, r, o, func(ws memdb.WatchSet, st *state.Store) (uint64, error) {
			idx, e, err := st.KVList(ws, key)
			entries, ck.st, ck.idx, ck.reaps = e, st, idx, st.Reaps()
			return idx, err
		})
		if err != nil {
			return nil, err
		}
		if len(entries) == 0 {
			return notFound{}, nil
		}
		return s.cache.answer(w, r, ck, func() (any, error) { return entries, nil })
	}
	var entry *state.KVEntry
	ck := respKey{query: cacheQuery(r)}
	err = s.blockingQuery(w, r, o, func(ws memdb.WatchSet, st *state.Store) (uint64, error) {
		idx, e, err := st.KVGet(ws, key)
		entry, ck.st, ck.idx = e, st, idx
		return idx, err
	})
	if err != nil {
		return nil, err
	}
	if entry == nil {
		return notFound{}, nil
	}
	if _, ok := q["raw"]; ok {
		return rawBody{contentType: "text/plain; charset=utf-8", data: entry.Value}, nil
	}
	// The thousand watchers one write wakes share one encoding.
	return s.cache.answer(w, r, ck, func() (any, error) { return []*state.KVEntry{entry}, nil })
}

// readValue reads a KV value from the body, refusing one over the limit.
func (s *Server) readValue(r *http.Request) ([]byte, error) {
	max := s.cfg.Limits.KVMaxValueSize
	if r.ContentLength > int64(max) {
		return nil, tooLarge("Value is %d bytes, over the kv_max_value_size limit of %d bytes by %d bytes",
			r.ContentLength, max, r.ContentLength-int64(max))
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, int64(max)+1))
	if err != nil {
		return nil, badRequest("Reading the request body failed: %v", err)
	}
	if len(b) > max {
		return nil, tooLarge("Value is over the kv_max_value_size limit of %d bytes", max)
	}
	return b, nil
}

func parseUintParam(r *http.Request, name string) (uint64, bool, error) {
	v, ok := query(r)[name]
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(v[0], 10, 64)
	if err != nil {
		return 0, true, badRequest("Invalid %s %q: %v", name, v[0], err)
	}
	return n, true, nil
}

func (s *Server) kvPut(w http.ResponseWriter, r *http.Request) (any, error) {
	key, err := kvKey(r)
	if err != nil {
		return nil, err
	}
	if key == "" {
		return nil, badRequest("Missing key name")
	}
	if err := checkDC(r, s.cfg.Agent.Datacenter); err != nil {
		return nil, err
	}
	q := query(r)
	flags, _, err := parseUintParam(r, "flags")
	if err != nil {
		return nil, err
	}
	cas, hasCAS, err := parseUintParam(r, "cas")
	if err != nil {
		return nil, err
	}
	_, acquire := q["acquire"]
	_, release := q["release"]
	if acquire && release {
		return nil, badRequest("Conflicting flags: acquire and release")
	}
	if (acquire || release) && hasCAS {
		return nil, badRequest("Conflicting flags: cas with acquire or release")
	}
	value, err := s.readValue(r)
	if err != nil {
		return nil, err
	}
	req := fsm.KVSRequest{Op: state.VerbSet, Entry: state.KVEntry{Key: key, Flags: flags, Value: value}}
	switch {
	case acquire:
		req.Op, req.Session = state.VerbLock, q.Get("acquire")
		if v := q.Get("wait"); v != "" {
			wait, err := time.ParseDuration(v)
			if err != nil || wait < 0 {
				return nil, badRequest("Invalid wait time %q", v)
			}
			if wait > 0 {
				return s.kvAcquireWait(w, r, req, min(wait, maxWait))
			}
		}
	case release:
		req.Op, req.Session = state.VerbUnlock, q.Get("release")
	case hasCAS:
		req.Op, req.Index = state.VerbCAS, cas
	}
	if (acquire || release) && req.Session == "" {
		return nil, badRequest("Missing session")
	}
	if s.refusedLocally(req) {
		return false, nil
	}
	resp, err := s.applyKVS(req)
	if err != nil {
		return nil, err
	}
	if resp.OK && acquire {
		setFencing(w, resp.Acquire.Entry)
	}
	if !resp.OK && resp.Acquire.DelayUntil != 0 {
		w.Header().Set("X-Muster-Lock-Delay", time.Duration(resp.Acquire.DelayUntil-time.Now().UnixNano()).String())
	}
	return resp.OK, nil
}

// refusedLocally reports whether a cas or a plain acquire is bound to fail,
// judged from this server's state, so it can answer false without a Raft
// entry. Under contention most CAS attempts and acquires lose; answering them
// locally keeps the log for writes that win. Only refusals are decided here,
// and a refusal writes nothing: a server that is behind may refuse one that
// would have won, and the client retries, as after any lost race.
func (s *Server) refusedLocally(req fsm.KVSRequest) bool {
	_, e, err := s.store().KVGet(nil, req.Entry.Key)
	if err != nil {
		return false
	}
	switch req.Op {
	case state.VerbCAS:
		return !state.CASMatches(e, req.Index)
	case state.VerbLock:
		if e == nil || e.Session == "" || e.Session == req.Session {
			return false
		}
		// An unknown session must still get its 400 from the FSM.
		_, sess, err := s.store().SessionGet(nil, req.Session)
		return err == nil && sess != nil
	}
	return false
}

func setFencing(w http.ResponseWriter, e *state.KVEntry) {
	if e != nil && e.FencingToken != 0 {
		w.Header().Set(HeaderFencingToken, strconv.FormatUint(e.FencingToken, 10))
	}
}

// applyKVS proposes one KV write and returns its outcome.
func (s *Server) applyKVS(req fsm.KVSRequest) (*fsm.KVSResponse, error) {
	out, _, err := s.cfg.Cluster.Apply(fsm.KVSRequestType, &req)
	if err != nil {
		return nil, err
	}
	resp, ok := out.(*fsm.KVSResponse)
	if !ok {
		return nil, fmt.Errorf("httpapi: unexpected apply response %T", out)
	}
	return resp, resp.Err
}

// kvAcquireWait is the fair-lock extension: PUT ?acquire=S&wait=D. The
// session joins the key's FIFO queue; the write that frees the key grants it
// to the head of the queue in the same Raft entry, and this handler, watching
// its own place in the queue (not the key, so other handoffs do not wake
// it), answers true at once. At the deadline, or when the client goes
// away, the session leaves the queue; the answer is then whether it holds the
// lock (it may have been granted in the meantime). A session invalidated
// while waiting leaves the queue and gets false.
func (s *Server) kvAcquireWait(w http.ResponseWriter, r *http.Request, req fsm.KVSRequest, wait time.Duration) (any, error) {
	deadline := time.Now().Add(wait)
	req.Op, req.Deadline = fsm.KVLockWait, deadline.UnixNano()
	resp, err := s.applyKVS(req)
	if err != nil {
		return nil, err
	}
	if resp.OK {
		setFencing(w, resp.Acquire.Entry)
		return true, nil
	}
	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	defer cancel()
	key, session := req.Entry.Key, req.Session
	for {
		st := s.store()
		ws := memdb.NewWatchSet()
		ws.Add(st.AbandonCh())
		lw, err := st.LockWait(ws, key, session, time.Now().UnixNano())
		if err != nil {
			return nil, err
		}
		if e := lw.Entry; e != nil && e.Session == session {
			setFencing(w, e)
			return true, nil
		}
		if !lw.SessionLive {
			return false, nil // invalidated while waiting; the FSM dropped its place
		}
		// Queued: ws fires when this waiter's place changes (granted,
		// dropped, invalidated), so a handoff wakes only the waiter it
		// concerns. Not queued (its place went at its deadline, or this
		// node has yet to apply the wait): ws watches the key, as before.
		// A free key inside its lock-delay is granted by whoever asks
		// after the delay: wake then and ask again.
		waitCtx, stop := ctx, context.CancelFunc(func() {})
		retry := false
		free := lw.Entry == nil || lw.Entry.Session == ""
		switch {
		case lw.DelayUntil != 0:
			waitCtx, stop = context.WithDeadline(ctx, time.Unix(0, lw.DelayUntil))
			retry = true
		case lw.Queued && free:
			// The lock-delay ended before this handler looked (a loaded
			// server): nobody will free the key again, so ask now. The
			// acquire serves the head of the queue first, us or not.
			if resp, err = s.applyKVS(req); err != nil {
				return nil, err
			}
			if resp.OK {
				setFencing(w, resp.Acquire.Entry)
				return true, nil
			}
			continue
		}
		fired := ws.WatchCtx(waitCtx) == nil
		stop()
		if fired {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if retry {
			if resp, err = s.applyKVS(req); err != nil {
				return nil, err
			}
			if resp.OK {
				setFencing(w, resp.Acquire.Entry)
				return true, nil
			}
		}
	}
	// Deadline or client gone: leave the queue; it tells us if we won meanwhile.
	resp, err = s.applyKVS(fsm.KVSRequest{Op: fsm.KVLockUnwait, Entry: state.KVEntry{Key: key}, Session: session, Deadline: req.Deadline})
	if err != nil {
		return nil, err
	}
	if resp.OK {
		_, e, _ := s.store().KVGet(nil, key)
		setFencing(w, e)
	}
	return resp.OK, nil
}

func (s *Server) kvDelete(w http.ResponseWriter, r *http.Request) (any, error) {
	key, err := kvKey(r)
	if err != nil {
		return nil, err
	}
	if err := checkDC(r, s.cfg.Agent.Datacenter); err != nil {
		return nil, err
	}
	_, recurse := query(r)["recurse"]
	if key == "" && !recurse {
		return nil, badRequest("Missing key name")
	}
	cas, hasCAS, err := parseUintParam(r, "cas")
	if err != nil {
		return nil, err
	}
	req := fsm.KVSRequest{Op: state.VerbDelete, Entry: state.KVEntry{Key: key}}
	switch {
	case recurse && hasCAS:
		return nil, badRequest("Conflicting flags: cas with recurse")
	case recurse:
		req.Op = state.VerbDeleteTree
	case hasCAS:
		req.Op, req.Index = state.VerbDeleteCAS, cas
	}
	resp, err := s.applyKVS(req)
	if err != nil {
		return nil, err
	}
	return resp.OK, nil
}
