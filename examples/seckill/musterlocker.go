package main

import (
	"context"
	"fmt"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/sdk/lock"
	"github.com/musterhq/muster/sdk/lock/musterlock"
)

// newMusterLocker returns a new holder's handle on the session lock at key,
// the seed's consulClient.AcquireLock, with the session it holds the lock
// with; the caller closes the session when the buyer is done. On muster the
// lock waits in the key's FIFO queue on the server (no polling), and its
// fencing token is the acquisition's Raft index. The buyer keeps one
// session for all its buys, as etcd's buyers keep one concurrency.Session:
// a buy then costs an acquire and a release, not also a session's create
// and destroy.
func newMusterLocker(c *api.Client, key string) (lock.Locker, *musterlock.Session, error) {
	s, err := musterlock.NewSession(context.Background(), c, musterlock.SessionOptions{Name: "seckill"})
	if err != nil {
		return nil, nil, fmt.Errorf("seckill: %w", err)
	}
	l, err := musterlock.New(c, key, musterlock.Options{Session: s})
	if err != nil {
		_ = s.Close(context.Background())
		return nil, nil, fmt.Errorf("seckill: %w", err)
	}
	return l, s, nil
}
