package state

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// KV transaction verbs, Consul's names.
const (
	VerbSet            = "set"
	VerbCAS            = "cas"
	VerbLock           = "lock"
	VerbUnlock         = "unlock"
	VerbGet            = "get"
	VerbGetTree        = "get-tree"
	VerbCheckIndex     = "check-index"
	VerbCheckSession   = "check-session"
	VerbCheckNotExists = "check-not-exists"
	VerbDelete         = "delete"
	VerbDeleteTree     = "delete-tree"
	VerbDeleteCAS      = "delete-cas"

	// VerbAdd is muster's extension (plain Consul clients never send it):
	// add the decimal integer in Value to the key's decimal integer value
	// (a missing or empty key counts as 0). It fails if the key holds no
	// integer or the sum would be negative, so a flash sale decrements its
	// stock in one request, without a read, a check-index and retries. It
	// returns the entry with its new value.
	VerbAdd = "add"
)

// TxnOp is one operation of a transaction: a KV op (Key and the fields
// after it), or a catalog op on the one of Node, Service or Check that is
// set. Catalog ops take the verbs get, set, cas, delete and delete-cas; their
// cas and delete-cas compare the ModifyIndex of the entity given.
type TxnOp struct {
	Verb    string
	Key     string
	Value   []byte
	Flags   uint64
	Index   uint64
	Session string

	Node    *Node        `json:",omitempty"`
	Service *Service     `json:",omitempty"` // Service.Node names its node
	Check   *HealthCheck `json:",omitempty"`
}

// TxnResult is one result of a transaction: exactly one field is set.
type TxnResult struct {
	KV      *KVEntry     `json:",omitempty"`
	Node    *Node        `json:",omitempty"`
	Service *Service     `json:",omitempty"`
	Check   *HealthCheck `json:",omitempty"`
}

// TxnError says why operation OpIndex failed. What is Consul's message.
type TxnError struct {
	OpIndex int
	What    string
}

// IsReadOnly reports whether every op only reads: such a transaction needs
// no Raft entry.
func IsReadOnly(ops []TxnOp) bool {
	for _, op := range ops {
		switch op.Verb {
		case VerbGet, VerbGetTree, VerbCheckIndex, VerbCheckSession, VerbCheckNotExists:
			// Catalog ops read only with get, which this case covers.
		default:
			return false
		}
	}
	return true
}

// Txn applies ops all-or-nothing. Results hold one entry per result (gets
// return values; writes return the entry without its value; deletes return
// nothing), as in Consul. If any op fails, nothing is written and errs says
// which ops failed and why.
func (s *Store) Txn(idx uint64, now int64, ops []TxnOp) ([]TxnResult, []TxnError) {
	tx := s.writeTxn(idx, now)
	defer tx.Abort()
	results, errs := txnTxn(tx, ops)
	if len(errs) == 0 {
		tx.Commit()
	}
	return results, errs
}

// TxnRead applies a read-only transaction to a snapshot of the current state.
func (s *Store) TxnRead(ops []TxnOp) ([]TxnResult, []TxnError) {
	tx := &txn{Txn: s.db.Txn(false)}
	defer tx.Abort()
	return txnTxn(tx, ops)
}

func txnTxn(tx *txn, ops []TxnOp) ([]TxnResult, []TxnError) {
	var results []TxnResult
	var errs []TxnError
	for i, op := range ops {
		var err error
		switch {
		case op.Node != nil:
			results, err = txnNodeTxn(tx, op, results)
		case op.Service != nil:
			results, err = txnServiceTxn(tx, op, results)
		case op.Check != nil:
			results, err = txnCheckTxn(tx, op, results)
		default:
			var res []*KVEntry
			res, err = txnOpTxn(tx, op)
			for _, e := range res {
				results = append(results, TxnResult{KV: e})
			}
		}
		if err != nil {
			errs = append(errs, TxnError{OpIndex: i, What: err.Error()})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return results, nil
}

// txnOpTxn applies one op. Its errors are Consul's texts, since clients show
// them to users.
func txnOpTxn(tx *txn, op TxnOp) ([]*KVEntry, error) {
	e := &KVEntry{Key: op.Key, Value: op.Value, Flags: op.Flags}
	switch op.Verb {
	case VerbSet:
		if err := kvSetTxn(tx, e); err != nil {
			return nil, err
		}
	case VerbCAS:
		ok, err := kvCASTxn(tx, e, op.Index)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("failed to set key %q, index is stale", op.Key)
		}
	case VerbLock:
		res, err := kvLockTxn(tx, e, op.Session)
		if err != nil {
			return nil, err
		}
		if !res.Acquired {
			return nil, fmt.Errorf("failed to lock key %q, lock is already held", op.Key)
		}
	case VerbUnlock:
		ok, err := kvUnlockTxn(tx, e, op.Session)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("failed to unlock key %q, lock isn't held, or is held by another session", op.Key)
		}
	case VerbGet:
		cur, err := kvGetTxn(tx, op.Key)
		if err != nil {
			return nil, err
		}
		if cur == nil {
			return nil, fmt.Errorf("key %q doesn't exist", op.Key)
		}
		return []*KVEntry{cur}, nil
	case VerbGetTree:
		_, entries, err := kvListTxn(tx.Txn, nil, op.Key)
		return entries, err
	case VerbCheckIndex:
		cur, err := kvGetTxn(tx, op.Key)
		if err != nil {
			return nil, err
		}
		if cur == nil {
			return nil, fmt.Errorf("key %q doesn't exist", op.Key)
		}
		if cur.ModifyIndex != op.Index {
			return nil, fmt.Errorf("current modify index %d != %d", cur.ModifyIndex, op.Index)
		}
		return stripValue(cur), nil
	case VerbCheckSession:
		cur, err := kvGetTxn(tx, op.Key)
		if err != nil {
			return nil, err
		}
		if cur == nil {
			return nil, fmt.Errorf("key %q doesn't exist", op.Key)
		}
		if cur.Session != op.Session {
			return nil, fmt.Errorf("failed session check for key %q, current session %q != %q", op.Key, cur.Session, op.Session)
		}
		return stripValue(cur), nil
	case VerbCheckNotExists:
		cur, err := kvGetTxn(tx, op.Key)
		if err != nil {
			return nil, err
		}
		if cur != nil {
			return nil, fmt.Errorf("key %q exists", op.Key)
		}
		return nil, nil
	case VerbDelete:
		return nil, kvDeleteTxn(tx, op.Key)
	case VerbDeleteTree:
		return nil, kvDeleteTreeTxn(tx, op.Key)
	case VerbAdd:
		return kvAddTxn(tx, op)
	case VerbDeleteCAS:
		ok, err := kvDeleteCASTxn(tx, op.Key, op.Index)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("failed to delete key %q, index is stale", op.Key)
		}
		return nil, nil
	default:
		return nil, fmt.Errorf("unknown KV verb %q", op.Verb)
	}
	// The write verbs return the entry as written, without its value.
	cur, err := kvGetTxn(tx, op.Key)
	if err != nil || cur == nil {
		return nil, err
	}
	return stripValue(cur), nil
}

// kvAddTxn applies an add op (see VerbAdd).
func kvAddTxn(tx *txn, op TxnOp) ([]*KVEntry, error) {
	delta, err := strconv.ParseInt(string(op.Value), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("failed to add to key %q: %q is not a decimal integer", op.Key, op.Value)
	}
	cur, err := kvGetTxn(tx, op.Key)
	if err != nil {
		return nil, err
	}
	var have int64
	flags := op.Flags
	if cur != nil {
		flags = cur.Flags
		if v := strings.TrimSpace(string(cur.Value)); v != "" {
			if have, err = strconv.ParseInt(v, 10, 64); err != nil {
				return nil, fmt.Errorf("failed to add to key %q: it holds %q, not a decimal integer", op.Key, cur.Value)
			}
		}
	}
	if delta > 0 && have > math.MaxInt64-delta || delta < 0 && have < math.MinInt64-delta {
		return nil, fmt.Errorf("failed to add %d to key %q: it holds %d, and the sum overflows", delta, op.Key, have)
	}
	if have+delta < 0 {
		return nil, fmt.Errorf("failed to add %d to key %q: it holds %d, and the sum would be below zero", delta, op.Key, have)
	}
	if err := kvSetTxn(tx, &KVEntry{Key: op.Key, Flags: flags, Value: []byte(strconv.FormatInt(have+delta, 10))}); err != nil {
		return nil, err
	}
	e, err := kvGetTxn(tx, op.Key)
	if err != nil {
		return nil, err
	}
	return []*KVEntry{e}, nil
}

func stripValue(e *KVEntry) []*KVEntry {
	c := e.clone()
	c.Value = nil
	return []*KVEntry{c}
}

// TxnRefusal decides from the current state whether a transaction is bound
// to fail, so the HTTP layer can answer 409 without proposing it: if one of
// its checks (check-index, check-session, check-not-exists, cas, delete-cas)
// fails now, it could at best succeed against a state newer than the one its
// client read, as indexes only grow. It then returns every op's error, as the
// FSM would, from a dry run on a private copy of the state (the copy has its
// own writer, so the dry run never holds up the FSM). nil means "propose it".
//
// A transaction with a lock op is always proposed: whether it locks depends
// on lock-delays and waiter deadlines measured by the leader's clock stamp,
// which this dry run cannot know.
func (s *Store) TxnRefusal(now int64, ops []TxnOp) []TxnError {
	for _, op := range ops {
		if op.Verb == VerbLock {
			return nil
		}
	}
	if !txnCheckFails(s, ops) {
		return nil
	}
	copyDB := s.db.Snapshot()
	tx := &txn{Txn: copyDB.Txn(true), idx: s.LatestIndex() + 1, now: now}
	defer tx.Abort()
	_, errs := txnTxn(tx, ops)
	return errs
}

func txnCheckFails(s *Store, ops []TxnOp) bool {
	tx := &txn{Txn: s.db.Txn(false)}
	defer tx.Abort()
	for _, op := range ops {
		switch op.Verb {
		case VerbCheckIndex, VerbCheckSession, VerbCheckNotExists:
			if _, err := txnOpTxn(tx, op); err != nil {
				return true
			}
		case VerbCAS, VerbDeleteCAS:
			cur, err := kvGetTxn(tx, op.Key)
			if err != nil {
				return false
			}
			if op.Verb == VerbCAS && !CASMatches(cur, op.Index) || op.Verb == VerbDeleteCAS && !DeleteCASMatches(cur, op.Index) {
				return true
			}
		}
	}
	return false
}
