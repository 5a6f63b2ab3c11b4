package state

import (
	"fmt"
	"strings"

	"github.com/hashicorp/go-memdb"
)

// KVEntry is one key/value entry. Its JSON form is Consul's KVPair, plus the
// FencingToken extension that Consul clients ignore.
type KVEntry struct {
	LockIndex   uint64
	Key         string
	Flags       uint64
	Value       []byte
	Session     string `json:",omitempty"`
	CreateIndex uint64
	ModifyIndex uint64

	// FencingToken is the Raft index at which Session acquired the lock:
	// strictly increasing per key across acquisitions, 0 while unlocked. A
	// resource that remembers the highest token it has seen can refuse a
	// write from a holder that has since lost the lock.
	FencingToken uint64 `json:",omitempty"`
}

// clone returns a copy that may be modified and inserted.
func (e *KVEntry) clone() *KVEntry {
	c := *e
	return &c
}

// Tombstone remembers the index at which a key was deleted, so that the index
// a reader sees for a missing key or a prefix never goes backwards.
type Tombstone struct {
	Key   string
	Index uint64
}

// KVGet returns the entry for key (nil if missing) and the index a blocking
// reader should compare: the entry's ModifyIndex, or the index of its
// deletion. ws, if not nil, is armed to fire when the key changes.
func (s *Store) KVGet(ws memdb.WatchSet, key string) (uint64, *KVEntry, error) {
	tx := s.db.Txn(false)
	defer tx.Abort()
	ch, raw, err := tx.FirstWatch(tableKVs, "id", key)
	if err != nil {
		return 0, nil, fmt.Errorf("state: kv get: %w", err)
	}
	ws.Add(ch)
	if raw != nil {
		e := raw.(*KVEntry)
		return e.ModifyIndex, e, nil
	}
	return tombstoneIndex(tx, key, false), nil, nil
}

// KVList returns the entries whose keys start with prefix, in key order, and
// the highest index among them and the tombstones under prefix.
func (s *Store) KVList(ws memdb.WatchSet, prefix string) (uint64, []*KVEntry, error) {
	tx := s.db.Txn(false)
	defer tx.Abort()
	return kvListTxn(tx, ws, prefix)
}

func kvListTxn(tx *memdb.Txn, ws memdb.WatchSet, prefix string) (uint64, []*KVEntry, error) {
	it, err := tx.Get(tableKVs, "id_prefix", prefix)
	if err != nil {
		return 0, nil, fmt.Errorf("state: kv list: %w", err)
	}
	ws.Add(it.WatchCh())
	idx := tombstoneIndex(tx, prefix, true)
	var out []*KVEntry
	for raw := it.Next(); raw != nil; raw = it.Next() {
		e := raw.(*KVEntry)
		out = append(out, e)
		if e.ModifyIndex > idx {
			idx = e.ModifyIndex
		}
	}
	return idx, out, nil
}

// KVKeys returns the keys under prefix. With a non-empty separator, keys are
// cut after the first separator following the prefix and deduplicated, as in
// Consul's ?keys&separator=/.
func (s *Store) KVKeys(ws memdb.WatchSet, prefix, sep string) (uint64, []string, error) {
	tx := s.db.Txn(false)
	defer tx.Abort()
	idx, entries, err := kvListTxn(tx, ws, prefix)
	if err != nil {
		return 0, nil, err
	}
	var keys []string
	last := ""
	for _, e := range entries {
		k := e.Key
		if sep != "" {
			if i := strings.Index(k[len(prefix):], sep); i >= 0 {
				k = k[:len(prefix)+i+len(sep)]
			}
		}
		if k != last {
			keys = append(keys, k)
			last = k
		}
	}
	return idx, keys, nil
}

// tombstoneIndex is the highest deletion index of key, or of any key under it
// when prefix is true.
func tombstoneIndex(tx *memdb.Txn, key string, prefix bool) uint64 {
	if !prefix {
		raw, err := tx.First(tableTombstones, "id", key)
		if err != nil || raw == nil {
			return 0
		}
		return raw.(*Tombstone).Index
	}
	it, err := tx.Get(tableTombstones, "id_prefix", key)
	if err != nil {
		return 0
	}
	var max uint64
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if v := raw.(*Tombstone).Index; v > max {
			max = v
		}
	}
	return max
}

// KVSet writes e's Value and Flags, keeping any lock on the key (a plain set
// does not release a lock, as in Consul).
func (s *Store) KVSet(idx uint64, now int64, e *KVEntry) error {
	tx := s.writeTxn(idx, now)
	defer tx.Abort()
	if err := kvSetTxn(tx, e); err != nil {
		return err
	}
	tx.Commit()
	return nil
}

func kvGetTxn(tx *txn, key string) (*KVEntry, error) {
	raw, err := tx.First(tableKVs, "id", key)
	if err != nil {
		return nil, fmt.Errorf("state: kv get: %w", err)
	}
	if raw == nil {
		return nil, nil
	}
	return raw.(*KVEntry), nil
}

// kvInsertTxn stores e with ModifyIndex set to the transaction's index.
func kvInsertTxn(tx *txn, e *KVEntry) error {
	e.ModifyIndex = tx.idx
	if e.CreateIndex == 0 {
		e.CreateIndex = tx.idx
	}
	if len(e.Value) == 0 {
		e.Value = nil
	}
	if err := tx.Insert(tableKVs, e); err != nil {
		return fmt.Errorf("state: kv insert: %w", err)
	}
	// The entry's ModifyIndex now exceeds its tombstone's: drop it. (KV
	// reads take their index from entries and tombstones, never from the
	// index table, so KV writes do not bump it.)
	if ts, err := tx.First(tableTombstones, "id", e.Key); err != nil {
		return fmt.Errorf("state: kv tombstone: %w", err)
	} else if ts != nil {
		if err := tx.Delete(tableTombstones, ts); err != nil {
			return fmt.Errorf("state: kv tombstone: %w", err)
		}
	}
	return nil
}

func kvSetTxn(tx *txn, e *KVEntry) error {
	existing, err := kvGetTxn(tx, e.Key)
	if err != nil {
		return err
	}
	n := &KVEntry{Key: e.Key, Flags: e.Flags, Value: e.Value}
	if existing != nil {
		n.CreateIndex = existing.CreateIndex
		n.LockIndex = existing.LockIndex
		n.Session = existing.Session
		n.FencingToken = existing.FencingToken
	}
	return kvInsertTxn(tx, n)
}

// CASMatches is Consul's check-and-set rule: with cas 0 the key must not
// exist, otherwise its ModifyIndex must equal cas. existing is nil for a
// missing key. The HTTP layer uses it to refuse a stale cas without a Raft
// entry: indexes only grow, so a mismatch now is a mismatch later.
func CASMatches(existing *KVEntry, cas uint64) bool {
	if cas == 0 {
		return existing == nil
	}
	return existing != nil && existing.ModifyIndex == cas
}

// DeleteCASMatches is the rule for a delete with cas: a missing key counts
// as deleted, whatever cas says (Consul's answer).
func DeleteCASMatches(existing *KVEntry, cas uint64) bool {
	return existing == nil || existing.ModifyIndex == cas
}

// kvCASTxn sets e only if CASMatches. It reports whether it wrote.
func kvCASTxn(tx *txn, e *KVEntry, cas uint64) (bool, error) {
	existing, err := kvGetTxn(tx, e.Key)
	if err != nil || !CASMatches(existing, cas) {
		return false, err
	}
	return true, kvSetTxn(tx, e)
}

// kvDeleteTxn removes key (a no-op if missing), leaves a tombstone, and hands
// a lock the key carried to the next queued waiter.
func kvDeleteTxn(tx *txn, key string) error {
	existing, err := kvGetTxn(tx, key)
	if err != nil || existing == nil {
		return err
	}
	if err := tx.Delete(tableKVs, existing); err != nil {
		return fmt.Errorf("state: kv delete: %w", err)
	}
	if err := tx.Insert(tableTombstones, &Tombstone{Key: key, Index: tx.idx}); err != nil {
		return fmt.Errorf("state: kv tombstone: %w", err)
	}
	if existing.Session != "" {
		return grantNextTxn(tx, key)
	}
	return nil
}

// kvDeleteCASTxn deletes key only if DeleteCASMatches.
func kvDeleteCASTxn(tx *txn, key string, cas uint64) (bool, error) {
	existing, err := kvGetTxn(tx, key)
	if err != nil || !DeleteCASMatches(existing, cas) {
		return false, err
	}
	return true, kvDeleteTxn(tx, key)
}

// kvDeleteTreeTxn deletes every key under prefix.
func kvDeleteTreeTxn(tx *txn, prefix string) error {
	it, err := tx.Get(tableKVs, "id_prefix", prefix)
	if err != nil {
		return fmt.Errorf("state: kv delete-tree: %w", err)
	}
	var keys []string
	for raw := it.Next(); raw != nil; raw = it.Next() {
		keys = append(keys, raw.(*KVEntry).Key)
	}
	for _, k := range keys {
		if err := kvDeleteTxn(tx, k); err != nil {
			return err
		}
	}
	return nil
}

// Reap deletes the tombstones of keys deleted at or before upTo, and the
// lock-delays that ended before now. The leader proposes it periodically with
// an index old enough that no reader still blocks on it (Consul's tombstone
// GC); a reader of a reaped key sees its index drop and reads again.
func (s *Store) Reap(idx uint64, now int64, upTo uint64) (int, error) {
	tx := s.writeTxn(idx, now)
	defer tx.Abort()
	var dead []any
	it, err := tx.Get(tableTombstones, "id")
	if err != nil {
		return 0, fmt.Errorf("state: reap: %w", err)
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if raw.(*Tombstone).Index <= upTo {
			dead = append(dead, raw)
		}
	}
	n := len(dead)
	for _, d := range dead {
		if err := tx.Delete(tableTombstones, d); err != nil {
			return 0, fmt.Errorf("state: reap: %w", err)
		}
	}
	dead = dead[:0]
	it, err = tx.Get(tableLockDelays, "id")
	if err != nil {
		return 0, fmt.Errorf("state: reap: %w", err)
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if raw.(*LockDelay).Until <= now {
			dead = append(dead, raw)
		}
	}
	for _, d := range dead {
		if err := tx.Delete(tableLockDelays, d); err != nil {
			return 0, fmt.Errorf("state: reap: %w", err)
		}
	}
	tx.Commit()
	if n > 0 {
		s.reaps.Add(1)
	}
	return n, nil
}

// Reaps counts the reaps that removed tombstones. A list's index (the
// highest of its entries' and tombstones' indexes) can go back to an
// earlier value after one, with other content: readers that key anything
// on such an index must key it on Reaps too.
func (s *Store) Reaps() uint64 { return s.reaps.Load() }
