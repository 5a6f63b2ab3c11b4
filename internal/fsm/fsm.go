// Package fsm applies committed Raft log entries to the state store.
//
// Apply and Snapshot are called by hashicorp/raft from one goroutine; Apply
// runs concurrently with a snapshot's Persist, which reads an immutable memdb
// snapshot. Apply is deterministic: the only clock it reads is the one carried
// in each entry, so every server reaches the same state.
package fsm

import (
	"fmt"
	"io"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/musterhq/muster/internal/state"
)

// FSM implements raft.FSM over a state.Store.
type FSM struct {
	store atomic.Pointer[state.Store] // swapped on Restore; never nil
}

// New returns an FSM over an empty store.
func New() *FSM {
	f := &FSM{}
	f.store.Store(state.New())
	return f
}

// State returns the current store. After a Restore, readers holding the old
// store are woken through its AbandonCh and must call State again.
func (f *FSM) State() *state.Store { return f.store.Load() }

type applyFunc func(s *state.Store, idx uint64, now int64, body []byte) any

var dispatch = map[MessageType]applyFunc{
	KVSRequestType:      applyKVS,
	TxnRequestType:      applyTxn,
	SessionCreateType:   applySessionCreate,
	SessionDestroyType:  applySessionDestroy,
	RegisterRequestType: applyRegister,
	ReapRequestType:     applyReap,
	DeregisterType:      applyDeregister,
}

// Apply applies one committed entry. What it returns reaches the proposer
// through the ApplyFuture's Response: a typed response, or an error that
// means the request was refused (nothing changed).
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	t, now, body, err := decodeHeader(l.Data)
	if err != nil {
		panic(err) // an undecodable committed entry: every server must stop alike
	}
	fn, ok := dispatch[t]
	if !ok {
		panic(fmt.Errorf("%w: unknown message type %d at index %d", ErrBadCommand, t, l.Index))
	}
	return fn(f.State(), l.Index, now, body)
}

func applyKVS(s *state.Store, idx uint64, now int64, body []byte) any {
	var req KVSRequest
	if err := decode(body, &req); err != nil {
		return &KVSResponse{Err: err}
	}
	e := &req.Entry
	resp := &KVSResponse{}
	switch req.Op {
	case state.VerbSet:
		resp.Err = s.KVSet(idx, now, e)
		resp.OK = resp.Err == nil
	case state.VerbLock:
		resp.Acquire, resp.Err = s.KVLock(idx, now, e, req.Session)
		resp.OK = resp.Acquire.Acquired
	case KVLockWait:
		resp.Acquire, resp.Err = s.KVLockWait(idx, now, e, req.Session, req.Deadline)
		resp.OK = resp.Acquire.Acquired
	case KVLockUnwait:
		resp.OK, resp.Err = s.KVLockUnwait(idx, now, e.Key, req.Session, req.Deadline)
	case state.VerbUnlock:
		resp.OK, resp.Err = s.KVUnlock(idx, now, e, req.Session)
	default:
		// cas, delete, delete-cas, delete-tree: one-op transactions whose
		// only failure is a false answer.
		op := state.TxnOp{Verb: req.Op, Key: e.Key, Value: e.Value, Flags: e.Flags, Index: req.Index}
		_, errs := s.Txn(idx, now, []state.TxnOp{op})
		resp.OK = len(errs) == 0
	}
	return resp
}

func applyTxn(s *state.Store, idx uint64, now int64, body []byte) any {
	var req TxnRequest
	if err := decode(body, &req); err != nil {
		return err
	}
	results, errs := s.Txn(idx, now, req.Ops)
	return &TxnResponse{Results: results, Errors: errs}
}

func applySessionCreate(s *state.Store, idx uint64, now int64, body []byte) any {
	var req SessionRequest
	if err := decode(body, &req); err != nil {
		return err
	}
	if req.Session == nil {
		return fmt.Errorf("%w: session create without a session", ErrBadCommand)
	}
	return s.SessionCreate(idx, now, req.Session)
}

func applySessionDestroy(s *state.Store, idx uint64, now int64, body []byte) any {
	var req SessionRequest
	if err := decode(body, &req); err != nil {
		return err
	}
	return s.SessionDestroy(idx, now, req.ID)
}

func applyRegister(s *state.Store, idx uint64, now int64, body []byte) any {
	var req RegisterRequest
	if err := decode(body, &req); err != nil {
		return err
	}
	return s.Register(idx, now, &req)
}

func applyDeregister(s *state.Store, idx uint64, now int64, body []byte) any {
	var req state.Deregistration
	if err := decode(body, &req); err != nil {
		return err
	}
	return s.Deregister(idx, now, &req)
}

func applyReap(s *state.Store, idx uint64, now int64, body []byte) any {
	var req ReapRequest
	if err := decode(body, &req); err != nil {
		return err
	}
	_, err := s.Reap(idx, now, req.UpTo)
	return err
}

// Snapshot captures the store for hashicorp/raft.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return &snapshot{snap: f.State().Snapshot()}, nil
}

// Restore replaces the store with the one in rc and wakes every reader of
// the old one.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	s, err := state.Restore(rc)
	if err != nil {
		return err
	}
	old := f.store.Swap(s)
	old.Abandon()
	return nil
}

type snapshot struct {
	snap *state.Snapshot
}

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.snap.Persist(sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) Release() { s.snap.Release() }
