package state

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
)

// Locks follow Consul's model: a key is locked while its Session field names
// a live session. On top of it muster keeps, per key, a FIFO queue of waiting
// sessions (LockWaiter rows). Every write that frees a key hands it to the
// head of the queue in the same transaction, so a waiter is granted the lock
// in the very Raft entry that released it: no retry loop, no thundering herd.
//
// Invariant: a key with live waiters is locked or inside its lock-delay. A
// plain (non-waiting) acquire therefore never jumps the queue.

// LockWaiter is one session queued for a key. Value and Flags are written to
// the key when the lock is granted, as the acquire request asked.
type LockWaiter struct {
	ID       string // Key + "\x00" + zero-padded Seq: orders the queue
	Key      string
	Seq      uint64 // Raft index of the enqueue
	Session  string
	Deadline int64 // Unix nanoseconds; past it the waiter is dropped, never granted
	Value    []byte
	Flags    uint64
}

func waiterPrefix(key string) string { return key + "\x00" }

// LockDelay is the time until which a key cannot be acquired after the session
// holding it was invalidated.
type LockDelay struct {
	Key   string
	Until int64 // Unix nanoseconds
}

// AcquireResult reports the outcome of an acquire.
type AcquireResult struct {
	Acquired bool
	Queued   bool     // the session waits in the key's queue
	Entry    *KVEntry // the key after the acquire, when Acquired
	// DelayUntil is the end of the key's lock-delay (Unix ns), if one refused
	// or postponed the acquire.
	DelayUntil int64
}

// lockDelayTxn returns the end of key's lock-delay, or 0 if none is active.
func lockDelayTxn(tx *txn, key string) (int64, error) {
	raw, err := tx.First(tableLockDelays, "id", key)
	if err != nil {
		return 0, fmt.Errorf("state: lock delay: %w", err)
	}
	if raw == nil {
		return 0, nil
	}
	if d := raw.(*LockDelay); d.Until > tx.now {
		return d.Until, nil
	}
	return 0, nil
}

// sessionExistsTxn returns ErrSessionNotFound unless id names a live session.
func sessionExistsTxn(tx *txn, id string) error {
	if id == "" {
		return fmt.Errorf("%w: missing session", ErrBadRequest)
	}
	raw, err := tx.First(tableSessions, "id", id)
	if err != nil {
		return fmt.Errorf("state: session lookup: %w", err)
	}
	if raw == nil {
		return fmt.Errorf("%w: %q", ErrSessionNotFound, id)
	}
	return nil
}

// kvLockTxn is Consul's acquire: it locks e.Key for session and writes e's
// Value and Flags, unless another session holds the key, the key is in its
// lock-delay, or sessions are queued for it. Re-acquiring a held lock updates
// the value and keeps LockIndex and FencingToken.
func kvLockTxn(tx *txn, e *KVEntry, session string) (AcquireResult, error) {
	if err := sessionExistsTxn(tx, session); err != nil {
		return AcquireResult{}, err
	}
	existing, err := kvGetTxn(tx, e.Key)
	if err != nil {
		return AcquireResult{}, err
	}
	if existing != nil && existing.Session == session {
		n := existing.clone()
		n.Value, n.Flags = e.Value, e.Flags
		if err := kvInsertTxn(tx, n); err != nil {
			return AcquireResult{}, err
		}
		return AcquireResult{Acquired: true, Entry: n}, nil
	}
	if existing != nil && existing.Session != "" {
		return AcquireResult{}, nil
	}
	until, err := lockDelayTxn(tx, e.Key)
	if err != nil || until != 0 {
		return AcquireResult{DelayUntil: until}, err
	}
	// A free key with live waiters can only be one whose delay just ended:
	// serve the queue first.
	if err := grantNextTxn(tx, e.Key); err != nil {
		return AcquireResult{}, err
	}
	if existing, err = kvGetTxn(tx, e.Key); err != nil {
		return AcquireResult{}, err
	}
	if existing != nil && existing.Session == session {
		return AcquireResult{Acquired: true, Entry: existing}, nil // granted from the queue
	}
	if existing != nil && existing.Session != "" {
		return AcquireResult{}, nil
	}
	n := grantTxn(tx, existing, e.Key, session, e.Value, e.Flags)
	if err := kvInsertTxn(tx, n); err != nil {
		return AcquireResult{}, err
	}
	return AcquireResult{Acquired: true, Entry: n}, nil
}

// grantTxn builds the entry that gives key to session.
func grantTxn(tx *txn, existing *KVEntry, key, session string, value []byte, flags uint64) *KVEntry {
	n := &KVEntry{Key: key, Value: value, Flags: flags, Session: session, LockIndex: 1, FencingToken: tx.idx}
	if existing != nil {
		n.CreateIndex = existing.CreateIndex
		n.LockIndex = existing.LockIndex + 1
	}
	return n
}

// kvUnlockTxn is Consul's release: if session holds e.Key, it clears the lock,
// writes e's Value and Flags, and grants the key to the next waiter. It
// reports whether session held the lock.
func kvUnlockTxn(tx *txn, e *KVEntry, session string) (bool, error) {
	existing, err := kvGetTxn(tx, e.Key)
	if err != nil {
		return false, err
	}
	if existing == nil || existing.Session == "" || existing.Session != session {
		return false, nil
	}
	n := existing.clone()
	n.Value, n.Flags = e.Value, e.Flags
	n.Session, n.FencingToken = "", 0
	if err := kvInsertTxn(tx, n); err != nil {
		return false, err
	}
	return true, grantNextTxn(tx, e.Key)
}

// kvLockWaitTxn acquires e.Key for session or, if it is taken, queues session
// behind the key's other waiters until deadline (Unix ns). A session already
// queued (a second wait of the same client) keeps its place and the later of
// the two deadlines, so that neither wait cuts the other's short.
func kvLockWaitTxn(tx *txn, e *KVEntry, session string, deadline int64) (AcquireResult, error) {
	res, err := kvLockTxn(tx, e, session)
	if err != nil || res.Acquired {
		return res, err
	}
	w, err := waiterTxn(tx, e.Key, session)
	if err != nil {
		return AcquireResult{}, err
	}
	if w == nil {
		w = &LockWaiter{Key: e.Key, Seq: tx.idx, Session: session}
		w.ID = fmt.Sprintf("%s%020d", waiterPrefix(e.Key), w.Seq)
	} else {
		c := *w
		w = &c
	}
	w.Deadline, w.Value, w.Flags = max(w.Deadline, deadline), e.Value, e.Flags
	if err := tx.Insert(tableLockWaiters, w); err != nil {
		return AcquireResult{}, fmt.Errorf("state: lock queue: %w", err)
	}
	if err := tx.bumpIndex(tableLockWaiters); err != nil {
		return AcquireResult{}, err
	}
	res.Queued = true
	return res, nil
}

// kvLockUnwaitTxn ends one wait of session on key and reports whether the
// session holds the lock (it may have been granted before the waiter gave
// up). The queue row goes only if its deadline is this wait's (or deadline is
// 0): a longer wait of the same session that shares the row keeps its place.
func kvLockUnwaitTxn(tx *txn, key, session string, deadline int64) (bool, error) {
	w, err := waiterTxn(tx, key, session)
	if err != nil {
		return false, err
	}
	if w != nil && (deadline == 0 || w.Deadline == deadline) {
		if err := tx.Delete(tableLockWaiters, w); err != nil {
			return false, fmt.Errorf("state: lock queue: %w", err)
		}
		if err := tx.bumpIndex(tableLockWaiters); err != nil {
			return false, err
		}
	}
	e, err := kvGetTxn(tx, key)
	if err != nil {
		return false, err
	}
	return e != nil && e.Session == session, nil
}

func waiterTxn(tx *txn, key, session string) (*LockWaiter, error) {
	it, err := tx.Get(tableLockWaiters, "session", session)
	if err != nil {
		return nil, fmt.Errorf("state: lock queue: %w", err)
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if w := raw.(*LockWaiter); w.Key == key {
			return w, nil
		}
	}
	return nil, nil
}

// grantNextTxn gives a free key, outside its lock-delay, to the first queued
// waiter whose deadline has not passed, dropping expired waiters on the way.
func grantNextTxn(tx *txn, key string) error {
	existing, err := kvGetTxn(tx, key)
	if err != nil {
		return err
	}
	if existing != nil && existing.Session != "" {
		return nil
	}
	if until, err := lockDelayTxn(tx, key); err != nil || until != 0 {
		return err
	}
	it, err := tx.Get(tableLockWaiters, "id_prefix", waiterPrefix(key))
	if err != nil {
		return fmt.Errorf("state: lock queue: %w", err)
	}
	var drop []*LockWaiter
	var next *LockWaiter
	for raw := it.Next(); raw != nil; raw = it.Next() {
		w := raw.(*LockWaiter)
		drop = append(drop, w)
		if w.Deadline > tx.now {
			next = w
			break
		}
	}
	if len(drop) == 0 {
		return nil
	}
	for _, w := range drop {
		if err := tx.Delete(tableLockWaiters, w); err != nil {
			return fmt.Errorf("state: lock queue: %w", err)
		}
	}
	if err := tx.bumpIndex(tableLockWaiters); err != nil {
		return err
	}
	if next == nil {
		return nil
	}
	return kvInsertTxn(tx, grantTxn(tx, existing, key, next.Session, next.Value, next.Flags))
}

// LockWaiters returns the sessions queued for key, first in line first.
func (s *Store) LockWaiters(key string) ([]*LockWaiter, error) {
	tx := s.db.Txn(false)
	defer tx.Abort()
	it, err := tx.Get(tableLockWaiters, "id_prefix", waiterPrefix(key))
	if err != nil {
		return nil, fmt.Errorf("state: lock queue: %w", err)
	}
	var out []*LockWaiter
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*LockWaiter))
	}
	return out, nil
}

// KVLock, KVUnlock, KVLockWait and KVLockUnwait apply one lock operation in
// its own transaction; see the xxxTxn functions for their contracts.
func (s *Store) KVLock(idx uint64, now int64, e *KVEntry, session string) (AcquireResult, error) {
	tx := s.writeTxn(idx, now)
	defer tx.Abort()
	res, err := kvLockTxn(tx, e, session)
	if err == nil {
		tx.Commit()
	}
	return res, err
}

func (s *Store) KVUnlock(idx uint64, now int64, e *KVEntry, session string) (bool, error) {
	tx := s.writeTxn(idx, now)
	defer tx.Abort()
	ok, err := kvUnlockTxn(tx, e, session)
	if err == nil {
		tx.Commit()
	}
	return ok, err
}

func (s *Store) KVLockWait(idx uint64, now int64, e *KVEntry, session string, deadline int64) (AcquireResult, error) {
	tx := s.writeTxn(idx, now)
	defer tx.Abort()
	res, err := kvLockWaitTxn(tx, e, session, deadline)
	if err == nil {
		tx.Commit()
	}
	return res, err
}

func (s *Store) KVLockUnwait(idx uint64, now int64, key, session string, deadline int64) (bool, error) {
	tx := s.writeTxn(idx, now)
	defer tx.Abort()
	held, err := kvLockUnwaitTxn(tx, key, session, deadline)
	if err == nil {
		tx.Commit()
	}
	return held, err
}

// LockWaitState is what a fair-lock waiter needs to know about its wait,
// read from one snapshot.
type LockWaitState struct {
	Entry       *KVEntry // the key; nil if absent
	Queued      bool     // the session still has a place in the key's queue
	SessionLive bool     // the session exists
	// DelayUntil is the end of the key's lock-delay (Unix ns) when the key
	// is free and inside one, else 0: a free key in its lock-delay is
	// granted by whoever asks after the delay.
	DelayUntil int64
}

// LockWait reads session's wait on key and arms ws on the session's place
// in the queue and on the key's lock-delay, not on the key: the place goes
// when the session is granted the key, dropped at its deadline, gives up,
// or is invalidated, and changes when the session waits again; a
// lock-delay starts when a holder is invalidated, freeing the key without
// a grant. So a handoff wakes the one waiter it concerns, not every waiter
// of the key. When the session has no
// place, ws is armed on the key instead (the caller decides what that
// means; usually it has been granted or must give up).
func (s *Store) LockWait(ws memdb.WatchSet, key, session string, now int64) (LockWaitState, error) {
	tx := s.db.Txn(false)
	defer tx.Abort()
	var st LockWaitState
	ch, raw, err := tx.FirstWatch(tableKVs, "id", key)
	if err != nil {
		return st, fmt.Errorf("state: lock wait: %w", err)
	}
	if raw != nil {
		st.Entry = raw.(*KVEntry)
	}
	if sess, err := tx.First(tableSessions, "id", session); err != nil {
		return st, fmt.Errorf("state: lock wait: %w", err)
	} else {
		st.SessionLive = sess != nil
	}
	it, err := tx.Get(tableLockWaiters, "session", session)
	if err != nil {
		return st, fmt.Errorf("state: lock wait: %w", err)
	}
	for r := it.Next(); r != nil; r = it.Next() {
		if w := r.(*LockWaiter); w.Key == key {
			wch, _, err := tx.FirstWatch(tableLockWaiters, "id", w.Key, w.Seq)
			if err != nil {
				return st, fmt.Errorf("state: lock wait: %w", err)
			}
			st.Queued, ch = true, wch
			break
		}
	}
	ws.Add(ch)
	// The one way a queued key is freed without a grant is a holder's
	// invalidation with a lock-delay: watch for that too.
	dch, raw, err := tx.FirstWatch(tableLockDelays, "id", key)
	if err != nil {
		return st, fmt.Errorf("state: lock wait: %w", err)
	}
	ws.Add(dch)
	if raw != nil && (st.Entry == nil || st.Entry.Session == "") {
		if d := raw.(*LockDelay); d.Until > now {
			st.DelayUntil = d.Until
		}
	}
	return st, nil
}
