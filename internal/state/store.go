// Package state is muster's replicated state: the tables every server holds in
// memory (key/value entries, sessions, lock queues, nodes, checks), built on
// hashicorp/go-memdb.
//
// Writes come only from the FSM (package fsm), each with the Raft index of its
// log entry and the leader's clock reading carried in that entry, so every
// server computes the same state. Reads are lock-free snapshots. A reader that
// wants to block until its result changes passes a memdb.WatchSet; a write's
// commit closes exactly the watch channels of the radix-tree nodes it changed,
// so a reader of one key is not woken by writes to another.
//
// Each public write method opens one memdb transaction and delegates to a
// composable xxxTxn function; /v1/txn and the lock queue are built from the
// same pieces.
package state

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/hashicorp/go-memdb"
)

// Sentinel errors. Callers match them with errors.Is; the HTTP layer maps each
// to a status code and a stable error code.
var (
	ErrSessionNotFound = errors.New("state: session not found")
	ErrNodeNotFound    = errors.New("state: node not found")
	ErrCheckNotFound   = errors.New("state: check not found")
	ErrServiceNotFound = errors.New("state: service not found")
	ErrCheckCritical   = errors.New("state: check is critical")
	ErrBadRequest      = errors.New("state: bad request")
)

// Store holds the tables. It is safe for concurrent use: any number of
// readers, and writes serialized by memdb (in practice one writer, the FSM).
type Store struct {
	db *memdb.MemDB

	// abandonCh is closed when this Store is replaced by a restored one, so
	// that blocked readers wake and re-read from the new Store.
	abandonCh chan struct{}

	// latest is the index of the last committed write.
	latest atomic.Uint64
	// reaps counts tombstone reaps (see Reaps).
	reaps atomic.Uint64
}

// New returns an empty Store.
func New() *Store {
	db, err := memdb.NewMemDB(mustSchema())
	if err != nil {
		panic(fmt.Sprintf("state: %v", err))
	}
	return &Store{db: db, abandonCh: make(chan struct{})}
}

// AbandonCh is closed when the Store is abandoned (replaced after a snapshot
// restore). Blocking readers add it to their WatchSet.
func (s *Store) AbandonCh() <-chan struct{} { return s.abandonCh }

// Abandon closes AbandonCh. The FSM calls it once, after swapping in a
// restored Store.
func (s *Store) Abandon() { close(s.abandonCh) }

// txn is a write transaction with the Raft index and the leader's clock
// reading (Unix nanoseconds) of the log entry being applied.
type txn struct {
	*memdb.Txn
	idx   uint64
	now   int64
	store *Store // nil for read-only use
	// bumped lists the index rows already set to idx in this transaction.
	bumped []string
}

func (s *Store) writeTxn(idx uint64, now int64) *txn {
	return &txn{Txn: s.db.Txn(true), idx: idx, now: now, store: s}
}

// Commit commits the transaction and records its index as the latest.
func (tx *txn) Commit() {
	tx.Txn.Commit()
	if tx.store != nil && tx.idx > tx.store.latest.Load() {
		tx.store.latest.Store(tx.idx)
	}
}

// bumpIndex records idx as the latest change of table, once per
// transaction (a registration touches the same rows several times).
func (tx *txn) bumpIndex(table string) error {
	if slices.Contains(tx.bumped, table) {
		return nil
	}
	if err := tx.Insert(tableIndex, &IndexEntry{Key: table, Value: tx.idx}); err != nil {
		return fmt.Errorf("state: index %s: %w", table, err)
	}
	tx.bumped = append(tx.bumped, table)
	return nil
}

// maxIndex returns the highest index recorded for any of tables.
func maxIndex(tx *memdb.Txn, tables ...string) uint64 {
	var max uint64
	for _, t := range tables {
		raw, err := tx.First(tableIndex, "id", t)
		if err == nil && raw != nil {
			if v := raw.(*IndexEntry).Value; v > max {
				max = v
			}
		}
	}
	return max
}

// LatestIndex is the index of the last committed write.
func (s *Store) LatestIndex() uint64 { return s.latest.Load() }
