package main

import (
	"fmt"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/sdk/lock"
	"github.com/musterhq/muster/sdk/lock/musterlock"
)

// newMusterLocker returns a new holder's handle on the session lock at key:
// the seed's consulClient.AcquireLock. On muster it waits in the key's FIFO
// queue on the server (no polling); each hold has its own session, and its
// fencing token is the acquisition's Raft index.
func newMusterLocker(c *api.Client, key string) (lock.Locker, error) {
	l, err := musterlock.New(c, key, musterlock.Options{SessionName: "seckill"})
	if err != nil {
		return nil, fmt.Errorf("seckill: %w", err)
	}
	return l, nil
}
