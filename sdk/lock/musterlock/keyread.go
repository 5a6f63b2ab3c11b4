package musterlock

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
)

// keyState is what a Lock reads of its key: the lock fields of Consul's
// KVPair, plus muster's FencingToken, which consul's KVPair would drop.
type keyState struct {
	Session      string
	ModifyIndex  uint64
	FencingToken uint64 // muster only: set while the key is locked; 0 from Consul
}

// readKey reads key, as a blocking query when index > 0 (waiting up to
// wait for the key's index to pass index), and returns the key (nil if it
// does not exist) and the index to block on next. consistent asks for a
// read confirmed by the leader's quorum.
//
// It goes through the raw client to see FencingToken; a key that does not
// exist comes back as a 404 error there, and is returned as nil with index
// 0 (nothing to block on: a missing key is free).
func readKey(ctx context.Context, c *api.Client, key string, index uint64, wait time.Duration, consistent bool) (*keyState, uint64, error) {
	q := &consul.QueryOptions{WaitIndex: index, WaitTime: wait, RequireConsistent: consistent}
	var out []keyState
	meta, err := c.Raw().Query("/v1/kv/"+strings.TrimPrefix(key, "/"), &out, q.WithContext(ctx))
	var se consul.StatusError
	switch {
	case errors.As(err, &se) && se.Code == http.StatusNotFound:
		return nil, 0, nil
	case err != nil:
		return nil, 0, err
	case len(out) == 0:
		return nil, nextIndex(index, meta.LastIndex), nil
	}
	return &out[0], nextIndex(index, meta.LastIndex), nil
}

// nextIndex is the index to block on after a blocking read at index
// answered with last: last, or 0 if the index went backwards (a snapshot
// restore), to start over as Consul advises.
func nextIndex(index, last uint64) uint64 {
	if last < index {
		return 0
	}
	return last
}
