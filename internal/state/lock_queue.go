package state

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
)

// LockQueue returns the sessions queued for key, first in line first, for
// a blocking read (GET /v1/lock/waiters). With recurse it returns the queues
// of every key that starts with key, grouped by key in key order, each
// first in line first. It arms ws on that part of the queue table, so a
// reader of one key's queue wakes only when that queue changes, and returns
// the queue table's index. Waiters past their deadline stay listed until
// the next grant of their key drops them.
func (s *Store) LockQueue(ws memdb.WatchSet, key string, recurse bool) (uint64, []*LockWaiter, error) {
	tx := s.db.Txn(false)
	defer tx.Abort()
	prefix := waiterPrefix(key)
	if recurse {
		prefix = key
	}
	it, err := tx.Get(tableLockWaiters, "id_prefix", prefix)
	if err != nil {
		return 0, nil, fmt.Errorf("state: lock queue: %w", err)
	}
	ws.Add(it.WatchCh())
	out := []*LockWaiter{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*LockWaiter))
	}
	return maxIndex(tx, tableLockWaiters), out, nil
}
