package httpapi

import (
	"io"
	"net/http"
	"strconv"

	"github.com/musterhq/muster/internal/fsm"
	"github.com/musterhq/muster/internal/local"
)

// The /v1/internal endpoints are for agents only: the agent serves them on
// its server port and refuses them on the HTTP API. They carry what a
// client agent or a follower needs from the leader for its anti-entropy:
// writes of its own node's services and checks, and the catalog's view of
// its node; and what a client agent's DNS interface reads, since it keeps
// no catalog. Bodies are msgpack, as Raft entries are.

// InternalPrefix starts every agent-only path.
const InternalPrefix = "/v1/internal/"

// ApplyResult is the answer of PUT /v1/internal/apply/{type}: the entry's
// index and the state store's refusal, if any.
type ApplyResult struct {
	Index uint64
	Error string `json:",omitempty"`
}

// internalApply applies a command another agent encoded with
// fsm.EncodeBody. Only the registration commands of anti-entropy are
// accepted.
func (s *Server) internalApply(w http.ResponseWriter, r *http.Request) (any, error) {
	n, err := strconv.Atoi(r.PathValue("type"))
	t := fsm.MessageType(n)
	if err != nil || (t != fsm.RegisterRequestType && t != fsm.DeregisterType) {
		return nil, badRequest("command type %q is not accepted from agents", r.PathValue("type"))
	}
	if s.cfg.Cluster == nil {
		return nil, badRequest("not a server")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(s.cfg.Limits.TxnMaxReqLen)))
	if err != nil {
		return nil, err
	}
	out, idx, err := s.cfg.Cluster.ApplyRaw(t, body)
	if err != nil {
		return nil, err
	}
	res := ApplyResult{Index: idx}
	if e, ok := out.(error); ok {
		res.Error = e.Error()
	}
	return res, nil
}

// internalNodeState answers a client agent's full sync with its node's
// catalog rows (local.NodeRows, msgpack).
func (s *Server) internalNodeState(w http.ResponseWriter, r *http.Request) (any, error) {
	rows, err := local.StoreRows(s.store(), r.PathValue("node"))
	if err != nil {
		return nil, err
	}
	return msgpackBody(rows)
}

// The DNS reads answer from this server's own store, whatever its role: a
// stale read, as Consul's DNS makes by default (allow_stale). A client
// agent adds ?stale so that a follower answers them itself instead of
// forwarding them to the leader.

// internalDNSService answers a client agent's DNS question for a service:
// every instance of it, with its node and checks ([]state.ServiceInstance,
// msgpack; empty when there is none). The asker filters by tag and health.
func (s *Server) internalDNSService(w http.ResponseWriter, r *http.Request) (any, error) {
	_, insts, err := s.store().ServiceInstances(nil, r.PathValue("name"), true)
	if err != nil {
		return nil, err
	}
	return msgpackBody(insts)
}

// internalDNSNode answers a client agent's DNS question for a node: the
// node (*state.Node, msgpack; nil when there is no such node).
func (s *Server) internalDNSNode(w http.ResponseWriter, r *http.Request) (any, error) {
	return msgpackBody(s.store().Node(r.PathValue("name")))
}

// msgpackBody is v encoded with fsm.EncodeBody, as an answer.
func msgpackBody(v any) (any, error) {
	b, err := fsm.EncodeBody(v)
	if err != nil {
		return nil, err
	}
	return rawBody{contentType: "application/msgpack", data: b}, nil
}
