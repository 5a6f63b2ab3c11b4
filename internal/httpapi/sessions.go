package httpapi

import (
	"github.com/musterhq/muster/internal/forward"

	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/go-uuid"

	"github.com/musterhq/muster/internal/fsm"
	"github.com/musterhq/muster/internal/state"
)

// Session limits, Consul's.
const (
	sessionTTLMin         = 10 * time.Second
	sessionTTLMax         = 24 * time.Hour
	defaultLockDelay      = 15 * time.Second
	lockDelayMinThreshold = 1000 // a bare number below this is seconds, else nanoseconds
	maxLockDelay          = 60 * time.Second
)

// sessionBody is the create request. Pointer fields tell "absent" from
// "empty"; ID, Namespace, Partition and the indexes are accepted (clients
// send whole entries back) and ignored.
type sessionBody struct {
	ID            string
	Name          string
	Node          string
	LockDelay     json.RawMessage
	Behavior      string
	TTL           string
	Checks        *[]string
	NodeChecks    *[]string
	ServiceChecks *[]state.ServiceCheck
	Namespace     string
	Partition     string
	CreateIndex   uint64
	ModifyIndex   uint64
}

// parseLockDelay accepts a duration string ("15s") or a number, which, as in
// Consul, is seconds below 1000 and nanoseconds from there up. Zero means no
// delay, and is honoured.
func parseLockDelay(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return defaultLockDelay, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		d, err := time.ParseDuration(str)
		if err != nil || d < 0 {
			return 0, badRequest("Invalid LockDelay %q", str)
		}
		return d, nil
	}
	var n float64
	if err := json.Unmarshal(raw, &n); err != nil || n < 0 {
		return 0, badRequest("Invalid LockDelay %s", raw)
	}
	if n < lockDelayMinThreshold {
		return time.Duration(n * float64(time.Second)), nil
	}
	return time.Duration(n), nil
}

// newSession validates a create body and fills Consul's defaults: the
// agent's node, the serfHealth check, release behavior, 15 s lock-delay.
func (s *Server) newSession(b *sessionBody) (*state.Session, error) {
	sess := &state.Session{Name: b.Name, Node: b.Node, Behavior: b.Behavior, TTL: b.TTL}
	if sess.Node == "" {
		sess.Node = s.cfg.Agent.NodeName
	}
	switch sess.Behavior {
	case "":
		sess.Behavior = state.BehaviorRelease
	case state.BehaviorRelease, state.BehaviorDelete:
	default:
		return nil, badRequest("Invalid Behavior setting %q (release or delete)", b.Behavior)
	}
	if sess.TTL != "" {
		ttl, err := time.ParseDuration(sess.TTL)
		if err != nil {
			return nil, badRequest("Invalid Session TTL %q: %v", sess.TTL, err)
		}
		if ttl != 0 && (ttl < sessionTTLMin || ttl > sessionTTLMax) {
			return nil, badRequest("Invalid Session TTL '%s', must be between [%v=%v]", ttl, sessionTTLMin, sessionTTLMax)
		}
		if ttl == 0 {
			sess.TTL = ""
		}
	}
	d, err := parseLockDelay(b.LockDelay)
	if err != nil {
		return nil, err
	}
	if d > maxLockDelay {
		return nil, badRequest("Invalid LockDelay %v: must be at most %v", d, maxLockDelay)
	}
	sess.LockDelay = d
	// Consul's rules: the node's serfHealth check unless NodeChecks (or the
	// deprecated Checks) name others; ServiceChecks come in addition.
	sess.NodeChecks = []string{state.SerfCheckID}
	switch {
	case b.NodeChecks != nil && b.Checks != nil:
		sess.NodeChecks = append(append([]string{}, *b.NodeChecks...), *b.Checks...)
	case b.NodeChecks != nil:
		sess.NodeChecks = append([]string{}, *b.NodeChecks...)
	case b.Checks != nil:
		sess.NodeChecks = append([]string{}, *b.Checks...)
	}
	if b.ServiceChecks != nil && len(*b.ServiceChecks) > 0 {
		sess.ServiceChecks = *b.ServiceChecks
	}
	id, err := uuid.GenerateUUID()
	if err != nil {
		return nil, fmt.Errorf("httpapi: session id: %w", err)
	}
	sess.ID = id
	return sess, nil
}

func (s *Server) sessionCreate(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := checkDC(r, s.cfg.Agent.Datacenter); err != nil {
		return nil, err
	}
	var b sessionBody
	if err := decodeBody(r, s.cfg.Limits.MaxBodySize, &b); err != nil {
		return nil, err
	}
	if b.Node == "" {
		// Created through another agent: the session is that agent's.
		b.Node = r.Header.Get(forward.HeaderOriginNode)
	}
	sess, err := s.newSession(&b)
	if err != nil {
		return nil, err
	}
	out, idx, err := s.cfg.Cluster.Apply(fsm.SessionCreateType, &fsm.SessionRequest{Session: sess})
	if err != nil {
		return nil, err
	}
	if err, ok := out.(error); ok {
		return nil, err
	}
	if sess.TTL != "" {
		ttl, _ := time.ParseDuration(sess.TTL)
		s.cfg.Sessions.Reset(sess.ID, ttl)
	}
	setIndex(w, idx)
	return map[string]string{"ID": sess.ID}, nil
}

func (s *Server) sessionDestroy(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := checkDC(r, s.cfg.Agent.Datacenter); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	if id == "" {
		return nil, badRequest("Missing session")
	}
	if err := s.DestroySession(id); err != nil {
		return nil, err
	}
	return true, nil
}

// DestroySession invalidates a session through Raft and stops its TTL
// timer. The leader's TTL loop calls it on expiry.
func (s *Server) DestroySession(id string) error {
	out, _, err := s.cfg.Cluster.Apply(fsm.SessionDestroyType, &fsm.SessionRequest{ID: id})
	if err != nil {
		return err
	}
	if err, ok := out.(error); ok {
		return err
	}
	s.cfg.Sessions.Clear(id)
	return nil
}

// sessionRenew resets a session's TTL timer. It is not a Raft write: TTL
// timers live on the leader (a new leader restarts them at full TTL).
func (s *Server) sessionRenew(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := checkDC(r, s.cfg.Agent.Datacenter); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	idx, sess, err := s.store().SessionGet(nil, id)
	if err != nil {
		return nil, err
	}
	if sess == nil {
		return nil, &httpError{http.StatusNotFound, CodeSessionNotFound, fmt.Sprintf("Session id '%s' not found", id)}
	}
	if sess.TTL != "" {
		ttl, _ := time.ParseDuration(sess.TTL)
		s.cfg.Sessions.Reset(sess.ID, ttl)
	}
	setIndex(w, idx)
	return []*state.Session{sess}, nil
}

func (s *Server) sessionInfo(w http.ResponseWriter, r *http.Request) (any, error) {
	o, err := parseQuery(r, s.cfg.Agent.Datacenter)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	var sess *state.Session
	err = s.blockingQuery(w, r, o, func(ws memdb.WatchSet, st *state.Store) (uint64, error) {
		idx, v, err := st.SessionGet(ws, id)
		sess = v
		return idx, err
	})
	if err != nil {
		return nil, err
	}
	if sess == nil {
		return []*state.Session{}, nil
	}
	return []*state.Session{sess}, nil
}

func (s *Server) sessionList(w http.ResponseWriter, r *http.Request) (any, error) {
	o, err := parseQuery(r, s.cfg.Agent.Datacenter)
	if err != nil {
		return nil, err
	}
	node := r.PathValue("node")
	var out []*state.Session
	err = s.blockingQuery(w, r, o, func(ws memdb.WatchSet, st *state.Store) (uint64, error) {
		idx, v, err := st.SessionList(ws, node)
		out = v
		return idx, err
	})
	return out, err
}
