package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/musterhq/muster/internal/fsm"
	"github.com/musterhq/muster/internal/state"
)

// txnOp is one operation of a /v1/txn body. Only KV operations are
// supported; Node, Service, Check and Session operations are refused with a
// 400 naming the op.
type txnOp struct {
	KV      *txnKVOp
	Node    any
	Service any
	Check   any
	Session any
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
	KV *state.KVEntry
}

type txnErrorJSON struct {
	OpIndex int
	What    string
}

type txnResponse struct {
	Results []txnResult
	Errors  []txnErrorJSON
}

var txnVerbs = map[string]bool{
	state.VerbSet: true, state.VerbCAS: true, state.VerbLock: true, state.VerbUnlock: true,
	state.VerbGet: true, state.VerbGetTree: true, state.VerbCheckIndex: true,
	state.VerbCheckSession: true, state.VerbCheckNotExists: true, state.VerbDelete: true,
	state.VerbDeleteTree: true, state.VerbDeleteCAS: true,
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
			return nil, badRequest("Operation %d: only KV operations are supported", i)
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
		// A lock op without a session is not refused here: like any other
		// failing op it is reported in the 409 with the rest (Consul's way).
		ops = append(ops, state.TxnOp{Verb: kv.Verb, Key: kv.Key, Value: kv.Value, Flags: kv.Flags, Index: kv.Index, Session: kv.Session})
	}
	return ops, nil
}

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
	var results []*state.KVEntry
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
		out.Results = append(out.Results, txnResult{KV: e})
	}
	return out, nil
}

// txnConflict answers 409 with the transaction's errors as JSON, as Consul
// does.
type txnConflict struct{ body txnResponse }

func (c *txnConflict) Error() string { return "transaction failed" }
