package state

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-memdb"
)

// snapshotTables are the tables a snapshot carries, in restore order.
var snapshotTables = []string{
	tableIndex, tableNodes, tableServices, tableChecks, tableSessions, tableKVs,
	tableTombstones, tableLockWaiters, tableLockDelays,
}

// snapshotFormat names the stream layout; Restore refuses any other.
const snapshotFormat = "muster-state-v1"

// record is one line of a snapshot stream: a table name and one row.
type record struct {
	T string          `json:"t"`
	V json.RawMessage `json:"v,omitempty"`
}

// Snapshot is a point-in-time view of the Store that can be written out while
// writes go on.
type Snapshot struct {
	tx *memdb.Txn
}

// Snapshot captures the current state. It is cheap (memdb is immutable), and
// the caller must Release it.
func (s *Store) Snapshot() *Snapshot {
	return &Snapshot{tx: s.db.Txn(false)}
}

// Release frees the snapshot.
func (sn *Snapshot) Release() { sn.tx.Abort() }

// Persist writes the snapshot as a stream of JSON lines: a header record,
// then one record per row.
func (sn *Snapshot) Persist(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(record{T: snapshotFormat}); err != nil {
		return fmt.Errorf("state: snapshot: %w", err)
	}
	for _, table := range snapshotTables {
		it, err := sn.tx.Get(table, "id")
		if err != nil {
			return fmt.Errorf("state: snapshot %s: %w", table, err)
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			v, err := json.Marshal(raw)
			if err != nil {
				return fmt.Errorf("state: snapshot %s: %w", table, err)
			}
			if err := enc.Encode(record{T: table, V: v}); err != nil {
				return fmt.Errorf("state: snapshot: %w", err)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("state: snapshot: %w", err)
	}
	return nil
}

// ErrBadSnapshot means a snapshot stream could not be read.
var ErrBadSnapshot = errors.New("state: bad snapshot")

// Restore reads a stream written by Persist into a new Store. The caller
// swaps it in and abandons the old one.
func Restore(r io.Reader) (*Store, error) {
	s := New()
	tx := s.db.Txn(true)
	defer tx.Abort()
	dec := json.NewDecoder(bufio.NewReader(r))
	var hdr record
	if err := dec.Decode(&hdr); err != nil || hdr.T != snapshotFormat {
		return nil, fmt.Errorf("%w: missing %s header", ErrBadSnapshot, snapshotFormat)
	}
	for {
		var rec record
		err := dec.Decode(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
		}
		row, err := newRow(rec.T)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(rec.V, row); err != nil {
			return nil, fmt.Errorf("%w: %s row: %v", ErrBadSnapshot, rec.T, err)
		}
		if err := tx.Insert(rec.T, row); err != nil {
			return nil, fmt.Errorf("%w: %s row: %v", ErrBadSnapshot, rec.T, err)
		}
		if idx := rowIndex(row); idx > s.latest.Load() {
			s.latest.Store(idx)
		}
	}
	tx.Commit()
	return s, nil
}

func newRow(table string) (any, error) {
	switch table {
	case tableIndex:
		return &IndexEntry{}, nil
	case tableNodes:
		return &Node{}, nil
	case tableServices:
		return &Service{}, nil
	case tableChecks:
		return &HealthCheck{}, nil
	case tableSessions:
		return &Session{}, nil
	case tableKVs:
		return &KVEntry{}, nil
	case tableTombstones:
		return &Tombstone{}, nil
	case tableLockWaiters:
		return &LockWaiter{}, nil
	case tableLockDelays:
		return &LockDelay{}, nil
	}
	return nil, fmt.Errorf("%w: unknown table %q", ErrBadSnapshot, table)
}

// rowIndex is the highest Raft index a restored row carries.
func rowIndex(row any) uint64 {
	switch r := row.(type) {
	case *IndexEntry:
		return r.Value
	case *KVEntry:
		return r.ModifyIndex
	case *Tombstone:
		return r.Index
	case *Session:
		return r.ModifyIndex
	case *Node:
		return r.ModifyIndex
	case *HealthCheck:
		return r.ModifyIndex
	case *Service:
		return r.ModifyIndex
	case *LockWaiter:
		return r.Seq
	}
	return 0
}
