package httpapi_test

// Regression tests: each pins down a defect found in review (now fixed).

import (
	"bytes"
	"context"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/internal/config"
	"github.com/musterhq/muster/internal/testagent"
)

func saveSnapshot(t *testing.T, a *testagent.Agent) []byte {
	t.Helper()
	snap, _, err := a.Client.Snapshot().Save(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	var buf bytes.Buffer
	buf.ReadFrom(snap)
	return buf.Bytes()
}

// A TTL session that comes back through PUT /v1/snapshot gets no TTL timer
// (timers are armed only at session create, renew and leadership change), so
// it never expires and its locks are held forever.
func TestRegression_RestoredTTLSessionNeverExpires(t *testing.T) {
	a := testagent.Start(t)
	ctx := context.Background()
	s := newSession(t, a, time.Nanosecond, "10s")
	if got, _ := a.Client.Acquire(ctx, "ttl-restored", s, nil); !got.Acquired {
		t.Fatal("no lock")
	}
	snap := saveSnapshot(t, a)
	// Destroy it, then restore the snapshot that still holds it.
	if _, err := a.Client.Session().Destroy(s, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Client.Snapshot().Restore(nil, bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if info, _, _ := a.Client.Session().Info(s, nil); info == nil {
		t.Fatal("session not restored")
	}
	time.Sleep(10*time.Second + 2*time.Second) // TTL + grace (100ms) + margin
	if info, _, _ := a.Client.Session().Info(s, nil); info != nil {
		p, _, _ := a.Client.KV().Get("ttl-restored", nil)
		t.Fatalf("restored 10s-TTL session still alive after 12s, lock still held: %+v", p)
	}
}

// Restoring a snapshot taken on another agent (disaster recovery into a new
// server) drops this agent's own node and serfHealth registration, which is
// only written at leadership establishment: every default session create then
// fails with 400 "missing node registration" until the next leader change.
func TestRegression_RestoreFromOtherAgentLosesLocalNode(t *testing.T) {
	a := testagent.Start(t)
	a.Client.KV().Put(&consul.KVPair{Key: "x", Value: []byte("1")}, nil)
	snap := saveSnapshot(t, a)

	b := testagent.Start(t, func(c *config.Config) { c.NodeName = "other-node" })
	if err := b.Client.Snapshot().Restore(nil, bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if status, body := do(t, b, "PUT", "/v1/session/create", []byte(`{}`)); status != 200 {
		t.Fatalf("session create on the restored agent: %d %s", status, body)
	}
}

// The same session waiting twice on one key (a client that retries after a
// client-side timeout, while the server still runs the first wait) shares a
// single queue row. The first wait's lock-unwait deletes that row, so the
// second wait is no longer queued: the release is not granted to it, the key
// is left free, and the second wait answers false after its whole wait.
func TestRegression_SecondWaitOfSameSessionLosesQueuePlace(t *testing.T) {
	a := testagent.Start(t)
	ctx := context.Background()
	holder, s := newSession(t, a, 0, ""), newSession(t, a, 0, "")
	if got, _ := a.Client.Acquire(ctx, "dup", holder, nil); !got.Acquired {
		t.Fatal("holder did not get the lock")
	}
	long := make(chan bool, 1)
	go func() {
		got, _ := a.Client.AcquireWait(ctx, "dup", s, nil, 4*time.Second)
		long <- got.Acquired
	}()
	testagent.WaitFor(t, 5*time.Second, "queued", func() bool {
		w, _ := a.FSMState().LockWaiters("dup")
		return len(w) == 1
	})
	// A second, short wait by the same session times out.
	if got, _ := a.Client.AcquireWait(ctx, "dup", s, nil, 200*time.Millisecond); got.Acquired {
		t.Fatal("short wait acquired a held lock")
	}
	// The holder releases while the long wait is still running.
	if ok, _, err := a.Client.KV().Release(&consul.KVPair{Key: "dup", Session: holder}, nil); err != nil || !ok {
		t.Fatalf("release: %v %v", ok, err)
	}
	start := time.Now()
	got := <-long
	p, _, _ := a.Client.KV().Get("dup", nil)
	if !got {
		t.Fatalf("long wait answered false after %v while the key was free (holder %q)", time.Since(start).Round(time.Millisecond), p.Session)
	}
}

// A tombstone reap takes a list's index back to an earlier value; the
// cached answer for that index must not come back with the deleted key.
func TestRegression_CachedListAfterReap(t *testing.T) {
	a := testagent.Start(t)
	kv := a.Client.KV()
	for _, k := range []string{"a/y", "a/x"} {
		if _, err := kv.Put(&consul.KVPair{Key: k, Value: []byte("1")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if pairs, _, err := kv.List("a/", nil); err != nil || len(pairs) != 2 {
		t.Fatalf("list: %v %v", pairs, err)
	}
	if _, err := kv.Delete("a/y", nil); err != nil {
		t.Fatal(err)
	}
	st := a.FSMState()
	idx := st.LatestIndex()
	if _, err := st.Reap(idx+1, 0, idx); err != nil {
		t.Fatal(err)
	}
	pairs, _, err := kv.List("a/", nil)
	if err != nil || len(pairs) != 1 || pairs[0].Key != "a/x" {
		t.Fatalf("list after delete and reap: %v %v", pairs, err)
	}
}
