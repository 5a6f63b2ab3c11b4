package state

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
)

// Table names. Every table's rows are immutable once inserted: writers insert
// a modified copy, so readers may hold a row after their transaction ends.
const (
	tableIndex       = "index"       // max Raft index per table, for coarse blocking queries
	tableKVs         = "kvs"         // *KVEntry by Key
	tableTombstones  = "tombstones"  // *Tombstone by Key: the index a key was deleted at
	tableSessions    = "sessions"    // *Session by ID
	tableLockWaiters = "lockWaiters" // *LockWaiter by (Key, Seq): the FIFO queue of a fair lock
	tableLockDelays  = "lockDelays"  // *LockDelay by Key
	tableNodes       = "nodes"       // *Node by Node name
	tableChecks      = "checks"      // *HealthCheck by (Node, CheckID)
	tableServices    = "services"    // *Service by (Node, ID)
)

// IndexEntry records the highest Raft index that changed a table.
type IndexEntry struct {
	Key   string
	Value uint64
}

func schema() *memdb.DBSchema {
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableIndex: {
			Name: tableIndex,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
			},
		},
		tableKVs: {
			Name: tableKVs,
			Indexes: map[string]*memdb.IndexSchema{
				"id":      {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
				"session": {Name: "session", AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "Session"}},
			},
		},
		tableTombstones: {
			Name: tableTombstones,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
			},
		},
		tableSessions: {
			Name: tableSessions,
			Indexes: map[string]*memdb.IndexSchema{
				"id":   {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
				"node": {Name: "node", Indexer: &memdb.StringFieldIndex{Field: "Node"}},
			},
		},
		tableLockWaiters: {
			Name: tableLockWaiters,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
					&memdb.StringFieldIndex{Field: "Key"},
					&memdb.UintFieldIndex{Field: "Seq"},
				}}},
				"session": {Name: "session", Indexer: &memdb.StringFieldIndex{Field: "Session"}},
			},
		},
		tableLockDelays: {
			Name: tableLockDelays,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
			},
		},
		tableNodes: {
			Name: tableNodes,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Node", Lowercase: true}},
			},
		},
		tableServices: {
			Name: tableServices,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
					&memdb.StringFieldIndex{Field: "Node", Lowercase: true},
					&memdb.StringFieldIndex{Field: "ID"},
				}}},
				"node":    {Name: "node", Indexer: &memdb.StringFieldIndex{Field: "Node", Lowercase: true}},
				"service": {Name: "service", Indexer: &memdb.StringFieldIndex{Field: "Service", Lowercase: true}},
			},
		},
		tableChecks: {
			Name: tableChecks,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
					&memdb.StringFieldIndex{Field: "Node", Lowercase: true},
					&memdb.StringFieldIndex{Field: "CheckID"},
				}}},
				"node": {Name: "node", Indexer: &memdb.StringFieldIndex{Field: "Node", Lowercase: true}},
				// No index on Status: every check write would pay for it
				// on the FSM's one goroutine, and reads by state are rare
				// (ChecksInState scans).
				"service": {Name: "service", AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "ServiceName", Lowercase: true}},
			},
		},
	}}
}

// mustSchema panics on a schema error: the schema is a constant of the
// program, so an error is a programming mistake caught by every test.
func mustSchema() *memdb.DBSchema {
	s := schema()
	if err := s.Validate(); err != nil {
		panic(fmt.Sprintf("state: invalid schema: %v", err))
	}
	return s
}
