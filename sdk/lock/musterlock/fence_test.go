package musterlock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/internal/testagent"
	"github.com/musterhq/muster/sdk/lock"
	"github.com/musterhq/muster/sdk/lock/locktest"
)

// errStale is the guarded resource's refusal of a write fenced with a token
// older than one it has already accepted.
var errStale = errors.New("stale fencing token")

// fencedRecord is the guarded resource: a KV value that remembers the
// largest fencing token it has accepted.
type fencedRecord struct {
	Token uint64
	Data  string
}

// fencedWrite is the resource's side of fencing: it stores data only if
// token is at least the largest token stored so far, with a check-and-set so
// that the comparison and the write are one step.
func fencedWrite(ctx context.Context, c *api.Client, key string, token uint64, data string) error {
	kv := c.KV()
	for {
		p, _, err := kv.Get(key, (&consul.QueryOptions{RequireConsistent: true}).WithContext(ctx))
		if err != nil {
			return err
		}
		var cur fencedRecord
		next := &consul.KVPair{Key: key} // ModifyIndex 0: create only if absent
		if p != nil {
			if err := json.Unmarshal(p.Value, &cur); err != nil {
				return err
			}
			next.ModifyIndex = p.ModifyIndex
		}
		if token < cur.Token {
			return fmt.Errorf("%w: %d < %d", errStale, token, cur.Token)
		}
		next.Value, _ = json.Marshal(fencedRecord{Token: token, Data: data})
		ok, _, err := kv.CAS(next, (&consul.WriteOptions{}).WithContext(ctx))
		if err != nil || ok {
			return err
		}
	}
}

// TestFencedWrite: a holder that lost its lock without noticing (a paused
// process: its session was destroyed while it did not look at Lost) has its
// write refused by the resource, because the next holder's token is larger.
func TestFencedWrite(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	for name, mode := range modes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			key, resource := "fence/"+name+"/lock", "fence/"+name+"/resource"
			stale, next := newLock(t, a, key, Options{Mode: mode}), newLock(t, a, key, Options{Mode: mode})

			if err := stale.Lock(ctx); err != nil {
				t.Fatal(err)
			}
			staleToken := stale.Token()
			if err := fencedWrite(ctx, a.Client, resource, staleToken, "first"); err != nil {
				t.Fatalf("write under the first hold: %v", err)
			}

			// The first holder "pauses"; its session is destroyed meanwhile.
			if _, err := a.Client.Session().Destroy(stale.Session(), nil); err != nil {
				t.Fatal(err)
			}
			if err := next.Lock(ctx); err != nil {
				t.Fatal(err)
			}
			if next.Token() <= staleToken {
				t.Fatalf("next Token = %d, want > %d", next.Token(), staleToken)
			}
			if err := fencedWrite(ctx, a.Client, resource, next.Token(), "second"); err != nil {
				t.Fatalf("write under the second hold: %v", err)
			}

			// The first holder wakes and writes with its old token.
			if err := fencedWrite(ctx, a.Client, resource, staleToken, "stale"); !errors.Is(err, errStale) {
				t.Fatalf("stale write = %v, want errStale", err)
			}
			p, _, err := a.Client.KV().Get(resource, nil)
			if err != nil || p == nil {
				t.Fatal(p, err)
			}
			var got fencedRecord
			if err := json.Unmarshal(p.Value, &got); err != nil || got.Data != "second" {
				t.Fatalf("resource = %+v, %v; want the second holder's write", got, err)
			}

			locktest.WaitClosed(t, stale.Lost(), "the stale holder's Lost")
			if err := stale.Unlock(ctx); !errors.Is(err, lock.ErrLost) {
				t.Errorf("stale Unlock = %v, want ErrLost", err)
			}
			if err := next.Unlock(ctx); err != nil {
				t.Errorf("next Unlock: %v", err)
			}
		})
	}
}
