package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/musterhq/muster/internal/fsm"
	"github.com/musterhq/muster/internal/state"
)

// txnOp is one operation of a /v1/txn body: KV, Node, Service or Check.
// Session operations are refused with a 400 naming the op. The catalog ops
// decode leniently, as /v1/catalog/register does: clients send whole
// Consul structs with fields muster does not keep.
type txnOp struct {
	KV      *txnKVOp
	Node    json.RawMessage
	Service json.RawMessage
	Check   json.RawMessage
	Session any
}

type txnNodeOp struct {
	Verb string
	Node state.Node
}

type txnServiceOp struct {
	Verb    string
	Node    string
	Service state.Service
}

type txnCheckOp struct {
	Verb  string
	Check state.HealthCheck
}

type txnKVOp struct {
	Verb      string
	Key       string
	Value     []byte
	Flags     uint64
	Index     uint64
	Session   string
	Namespace string // accepted and ignored: muster has one namespace
	Partition string // accepted and ignored: muster has one partition
}

type txnResult struct {
	KV      *state.KVEntry     `json:",omitempty"`
	Node    *state.Node        `json:",omitempty"`
	Service *agentService      `json:",omitempty"`
	Check   *state.HealthCheck `json:",omitempty"`
}

type txnErrorJSON struct {
	OpIndex int
	What    string
}

type txnResponse struct {
	Results []txnResult
	Errors  []txnErrorJSON
}

// catalogTxnVerbs are the verbs of Node, Service and Check ops.
var catalogTxnVerbs = map[string]bool{
	state.VerbGet: true, state.VerbSet: true, state.VerbCAS: true, state.VerbDelete: true, state.VerbDeleteCAS: true,
}

var txnVerbs = map[string]bool{
	state.VerbSet: true, state.VerbCAS: true, state.VerbLock: true, state.VerbUnlock: true,
	state.VerbGet: true, state.VerbGetTree: true, state.VerbCheckIndex: true,
	state.VerbCheckSession: true, state.VerbCheckNotExists: true, state.VerbDelete: true,
	state.VerbDeleteTree: true, state.VerbDeleteCAS: true, state.VerbAdd: true,
}

// parseTxn decodes and validates a transaction body.
func (s *Server) parseTxn(r *http.Request) ([]state.TxnOp, error) {
	var body []txnOp
	if err := decodeBody(r, s.cfg.Limits.TxnMaxReqLen, &body); err != nil {
		return nil, err
	}
	return s.validateTxn(body)
}

func (s *Server) validateTxn(body []txnOp) ([]state.TxnOp, error) {
	if max := s.cfg.Limits.TxnMaxOps; len(body) > max {
		return nil, tooLarge("Transaction contains too many operations (%d > %d)", len(body), max)
	}
	ops := make([]state.TxnOp, 0, len(body))
	for i, op := range body {
		if op.KV == nil {
			cop, err := s.catalogTxnOp(i, &op)
			if err != nil {
				return nil, err
			}
			ops = append(ops, cop)
			continue
		}
		kv := op.KV
		if !txnVerbs[kv.Verb] {
			return nil, badRequest("Operation %d: unknown KV verb %q", i, kv.Verb)
		}
		if err := validateKey(kv.Key); err != nil {
			return nil, badRequest("Operation %d: %v", i, err)
		}
		if kv.Key == "" && kv.Verb != state.VerbGetTree && kv.Verb != state.VerbDeleteTree {
			return nil, badRequest("Operation %d: missing key name", i)
		}
		if max := s.cfg.Limits.KVMaxValueSize; len(kv.Value) > max {
			return nil, tooLarge("Operation %d: value is %d bytes, over the kv_max_value_size limit of %d bytes by %d bytes",
				i, len(kv.Value), max, len(kv.Value)-max)
		}
		if kv.Verb == state.VerbAdd {
			if _, err := strconv.ParseInt(string(kv.Value), 10, 64); err != nil {
				return nil, badRequest("Operation %d: add needs a decimal integer Value (base64 of e.g. \"-1\"), got %q", i, kv.Value)
			}
		}
		// A lock op without a session is not refused here: like any other
		// failing op it is reported in the 409 with the rest (Consul's way).
		ops = append(ops, state.TxnOp{Verb: kv.Verb, Key: kv.Key, Value: kv.Value, Flags: kv.Flags, Index: kv.Index, Session: kv.Session})
	}
	return ops, nil
}

// catalogTxnOp validates a Node, Service or Check op.
func (s *Server) catalogTxnOp(i int, op *txnOp) (state.TxnOp, error) {
	var verb string
	var out state.TxnOp
	switch {
	case present(op.Node):
		var n txnNodeOp
		if err := json.Unmarshal(op.Node, &n); err != nil {
			return out, badRequest("Operation %d: Node decode failed: %v", i, err)
		}
		if n.Node.Node == "" {
			return out, badRequest("Operation %d: missing node name", i)
		}
		if n.Verb == state.VerbSet || n.Verb == state.VerbCAS {
			if n.Node.Address == "" {
				return out, badRequest("Operation %d: missing node address", i)
			}
			n.Node.Datacenter = s.cfg.Agent.Datacenter
		}
		verb, out = n.Verb, state.TxnOp{Verb: n.Verb, Node: &n.Node}
	case present(op.Service):
		var sv txnServiceOp
		if err := json.Unmarshal(op.Service, &sv); err != nil {
			return out, badRequest("Operation %d: Service decode failed: %v", i, err)
		}
		if sv.Node == "" {
			return out, badRequest("Operation %d: missing node name", i)
		}
		if sv.Service.ID == "" && sv.Service.Service == "" {
			return out, badRequest("Operation %d: missing service ID", i)
		}
		if sv.Service.Port < 0 || sv.Service.Port > 65535 {
			return out, badRequest("Operation %d: invalid service port %d", i, sv.Service.Port)
		}
		sv.Service.Node = sv.Node
		verb, out = sv.Verb, state.TxnOp{Verb: sv.Verb, Service: &sv.Service}
	case present(op.Check):
		var c txnCheckOp
		if err := json.Unmarshal(op.Check, &c); err != nil {
			return out, badRequest("Operation %d: Check decode failed: %v", i, err)
		}
		if c.Check.Node == "" || c.Check.CheckID == "" {
			return out, badRequest("Operation %d: a check needs Node and CheckID", i)
		}
		if !checkStatuses[c.Check.Status] {
			return out, badRequest("Operation %d: invalid check status %q", i, c.Check.Status)
		}
		verb, out = c.Verb, state.TxnOp{Verb: c.Verb, Check: &c.Check}
	default:
		return out, badRequest("Operation %d: only KV, Node, Service and Check operations are supported", i)
	}
	if !catalogTxnVerbs[verb] {
		return out, badRequest("Operation %d: unknown verb %q", i, verb)
	}
	return out, nil
}

// present reports whether an op field was sent: Consul's client sends the
// op kinds it does not use as null.
func present(m json.RawMessage) bool { return len(m) > 0 && string(m) != "null" }

// txn serves PUT /v1/txn. Read-only transactions are answered from the
// local state without a Raft entry, as in Consul. A failed transaction
// answers 409 with the failing operations and writes nothing.
func (s *Server) txn(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := checkDC(r, s.cfg.Agent.Datacenter); err != nil {
		return nil, err
	}
	ops, err := s.parseTxn(r)
	if err != nil {
		return nil, err
	}
	var results []state.TxnResult
	var errs []state.TxnError
	if state.IsReadOnly(ops) {
		o, err := parseQuery(r, s.cfg.Agent.Datacenter)
		if err != nil {
			return nil, err
		}
		o.minIndex = 0 // transactions never block (as in Consul): one pass
		err = s.blockingQuery(w, r, o, func(_ memdb.WatchSet, st *state.Store) (uint64, error) {
			results, errs = st.TxnRead(ops)
			return st.LatestIndex(), nil
		})
		if err != nil {
			return nil, err
		}
	} else if errs = s.store().TxnRefusal(time.Now().UnixNano(), ops); len(errs) == 0 {
		out, idx, err := s.cfg.Cluster.Apply(fsm.TxnRequestType, &fsm.TxnRequest{Ops: ops})
		if err != nil {
			return nil, err
		}
		resp, ok := out.(*fsm.TxnResponse)
		if !ok {
			if err, isErr := out.(error); isErr {
				return nil, err
			}
			return nil, fmt.Errorf("httpapi: unexpected txn response %T", out)
		}
		setIndex(w, idx)
		results, errs = resp.Results, resp.Errors
	}
	if len(errs) > 0 {
		out := txnResponse{}
		for _, e := range errs {
			out.Errors = append(out.Errors, txnErrorJSON{OpIndex: e.OpIndex, What: e.What})
		}
		return nil, &txnConflict{body: out}
	}
	out := txnResponse{Results: make([]txnResult, 0, len(results))}
	for _, e := range results {
		r := txnResult{KV: e.KV, Node: e.Node, Check: e.Check}
		if e.Service != nil {
			r.Service = newAgentService(e.Service)
		}
		out.Results = append(out.Results, r)
	}
	return out, nil
}

// txnConflict answers 409 with the transaction's errors as JSON, as Consul
// does.
type txnConflict struct{ body txnResponse }

func (c *txnConflict) Error() string { return "transaction failed" }
