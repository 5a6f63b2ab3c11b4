package state

import (
	"fmt"
	"time"

	"github.com/hashicorp/go-memdb"
)

// Session behaviors: what happens to the keys a session holds when it is
// invalidated.
const (
	BehaviorRelease = "release"
	BehaviorDelete  = "delete"
)

// SerfCheckID is the node health check every session uses by default.
const SerfCheckID = "serfHealth"

// Session is a Consul session. Its JSON form is Consul's.
type Session struct {
	ID            string
	Name          string
	Node          string
	LockDelay     time.Duration
	Behavior      string
	TTL           string
	NodeChecks    []string
	ServiceChecks []ServiceCheck
	CreateIndex   uint64
	ModifyIndex   uint64
}

// ServiceCheck names a service check a session is bound to.
type ServiceCheck struct {
	ID        string
	Namespace string `json:",omitempty"`
}

// SessionCreate inserts sess after checking that its node exists and none of
// its checks is missing or critical (Consul's rules). sess.ID is chosen by the
// caller before the write is proposed, so every server stores the same ID.
func (s *Store) SessionCreate(idx uint64, now int64, sess *Session) error {
	tx := s.writeTxn(idx, now)
	defer tx.Abort()
	if err := sessionCreateTxn(tx, sess); err != nil {
		return err
	}
	tx.Commit()
	return nil
}

func sessionCreateTxn(tx *txn, sess *Session) error {
	if sess.ID == "" {
		return fmt.Errorf("%w: missing session ID", ErrBadRequest)
	}
	if raw, err := tx.First(tableNodes, "id", sess.Node); err != nil {
		return fmt.Errorf("state: session node: %w", err)
	} else if raw == nil {
		return fmt.Errorf("%w: %q", ErrNodeNotFound, sess.Node)
	}
	for _, id := range sess.NodeChecks {
		if err := checkUsableTxn(tx, sess.Node, id); err != nil {
			return err
		}
	}
	for _, sc := range sess.ServiceChecks {
		if err := checkUsableTxn(tx, sess.Node, sc.ID); err != nil {
			return err
		}
	}
	c := *sess
	c.CreateIndex, c.ModifyIndex = tx.idx, tx.idx
	if err := tx.Insert(tableSessions, &c); err != nil {
		return fmt.Errorf("state: session insert: %w", err)
	}
	return tx.bumpIndex(tableSessions)
}

func checkUsableTxn(tx *txn, node, id string) error {
	raw, err := tx.First(tableChecks, "id", node, id)
	if err != nil {
		return fmt.Errorf("state: check lookup: %w", err)
	}
	if raw == nil {
		return fmt.Errorf("%w: %q", ErrCheckNotFound, id)
	}
	if raw.(*HealthCheck).Status == HealthCritical {
		return fmt.Errorf("%w: %q", ErrCheckCritical, id)
	}
	return nil
}

// SessionDestroy invalidates a session: it is deleted, its queued waits are
// dropped, and the keys it holds are released (or deleted, with behavior
// "delete") and put in the session's lock-delay. Destroying a missing session
// is not an error.
func (s *Store) SessionDestroy(idx uint64, now int64, id string) error {
	tx := s.writeTxn(idx, now)
	defer tx.Abort()
	if err := sessionDestroyTxn(tx, id); err != nil {
		return err
	}
	tx.Commit()
	return nil
}

func sessionDestroyTxn(tx *txn, id string) error {
	raw, err := tx.First(tableSessions, "id", id)
	if err != nil {
		return fmt.Errorf("state: session lookup: %w", err)
	}
	if raw == nil {
		return nil
	}
	sess := raw.(*Session)
	if err := tx.Delete(tableSessions, sess); err != nil {
		return fmt.Errorf("state: session delete: %w", err)
	}
	if err := tx.bumpIndex(tableSessions); err != nil {
		return err
	}
	if n, err := tx.DeleteAll(tableLockWaiters, "session", id); err != nil {
		return fmt.Errorf("state: lock queue: %w", err)
	} else if n > 0 {
		if err := tx.bumpIndex(tableLockWaiters); err != nil {
			return err
		}
	}

	it, err := tx.Get(tableKVs, "session", id)
	if err != nil {
		return fmt.Errorf("state: session locks: %w", err)
	}
	var held []*KVEntry
	for raw := it.Next(); raw != nil; raw = it.Next() {
		held = append(held, raw.(*KVEntry))
	}
	for _, e := range held {
		if sess.LockDelay > 0 {
			d := &LockDelay{Key: e.Key, Until: tx.now + int64(sess.LockDelay)}
			if err := tx.Insert(tableLockDelays, d); err != nil {
				return fmt.Errorf("state: lock delay: %w", err)
			}
		}
		if sess.Behavior == BehaviorDelete {
			if err := kvDeleteTxn(tx, e.Key); err != nil {
				return err
			}
			continue
		}
		n := e.clone()
		n.Session, n.FencingToken = "", 0
		if err := kvInsertTxn(tx, n); err != nil {
			return err
		}
		if err := grantNextTxn(tx, e.Key); err != nil {
			return err
		}
	}
	return nil
}

// SessionGet returns the session with id, or nil.
func (s *Store) SessionGet(ws memdb.WatchSet, id string) (uint64, *Session, error) {
	tx := s.db.Txn(false)
	defer tx.Abort()
	ch, raw, err := tx.FirstWatch(tableSessions, "id", id)
	if err != nil {
		return 0, nil, fmt.Errorf("state: session get: %w", err)
	}
	ws.Add(ch)
	idx := maxIndex(tx, tableSessions)
	if raw == nil {
		return idx, nil, nil
	}
	return idx, raw.(*Session), nil
}

// SessionList returns every session, or those of node when node is not
// empty, with the sessions table's index.
func (s *Store) SessionList(ws memdb.WatchSet, node string) (uint64, []*Session, error) {
	tx := s.db.Txn(false)
	defer tx.Abort()
	var it memdb.ResultIterator
	var err error
	if node == "" {
		it, err = tx.Get(tableSessions, "id")
	} else {
		it, err = tx.Get(tableSessions, "node", node)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("state: session list: %w", err)
	}
	ws.Add(it.WatchCh())
	out := []*Session{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*Session))
	}
	return maxIndex(tx, tableSessions), out, nil
}

// LockDelayUntil returns the end (Unix ns) of key's lock-delay as of now, or 0.
func (s *Store) LockDelayUntil(key string, now int64) int64 {
	tx := s.db.Txn(false)
	defer tx.Abort()
	raw, err := tx.First(tableLockDelays, "id", key)
	if err != nil || raw == nil {
		return 0
	}
	if d := raw.(*LockDelay); d.Until > now {
		return d.Until
	}
	return 0
}
