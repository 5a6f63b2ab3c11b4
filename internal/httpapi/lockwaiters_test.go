package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/internal/testagent"
)

// waiterJSON is one entry of GET /v1/lock/waiters.
type waiterJSON struct {
	Key      string
	Session  string
	Position int
	Since    uint64
	Deadline time.Time
}

// getWaiters reads GET /v1/lock/waiters/<path> and its X-Consul-Index.
func getWaiters(t *testing.T, a *testagent.Agent, path string) ([]waiterJSON, uint64) {
	t.Helper()
	resp, body := send(t, a, http.MethodGet, "/v1/lock/waiters/"+path, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET waiters %s: %d %s", path, resp.StatusCode, body)
	}
	idx, err := strconv.ParseUint(resp.Header.Get("X-Consul-Index"), 10, 64)
	if err != nil || idx == 0 {
		t.Fatalf("X-Consul-Index %q", resp.Header.Get("X-Consul-Index"))
	}
	var out []waiterJSON
	mustJSON(t, body, &out)
	return out, idx
}

// queueWaiters locks key with a new session and queues n more sessions
// behind it with AcquireWait, one by one so their order is known. The
// waits end in t.Cleanup. It returns the holder and the waiters in order.
func queueWaiters(t *testing.T, a *testagent.Agent, key string, n int) (string, []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	holder := newSession(t, a, 0, "")
	if got, err := a.Client.Acquire(ctx, key, holder, nil); err != nil || !got.Acquired {
		t.Fatalf("holder acquire %s: %+v %v", key, got, err)
	}
	waiters := make([]string, n)
	for i := range waiters {
		waiters[i] = newSession(t, a, 0, "")
		wg.Add(1)
		go func(s string) {
			defer wg.Done()
			a.Client.AcquireWait(ctx, key, s, nil, time.Minute)
		}(waiters[i])
		testagent.WaitFor(t, 10*time.Second, fmt.Sprintf("waiter %d queued on %s", i+1, key), func() bool {
			w, _ := a.FSMState().LockWaiters(key)
			return len(w) == i+1
		})
	}
	return holder, waiters
}

func TestLockWaiters_Queue(t *testing.T) {
	a := testagent.Start(t)
	_, waiters := queueWaiters(t, a, "jobs/lock", 3)
	queueWaiters(t, a, "jobs/other", 1)
	queueWaiters(t, a, "elsewhere", 1)

	tests := map[string]struct {
		path     string
		wantKeys []string // the Key of each entry, in order
	}{
		"one key":            {"jobs/lock", []string{"jobs/lock", "jobs/lock", "jobs/lock"}},
		"unknown key":        {"nope", []string{}},
		"key without queue":  {"jobs", []string{}},
		"recurse on prefix":  {"jobs/?recurse", []string{"jobs/lock", "jobs/lock", "jobs/lock", "jobs/other"}},
		"recurse everything": {"?recurse", []string{"elsewhere", "jobs/lock", "jobs/lock", "jobs/lock", "jobs/other"}},
	}
	run := func(t *testing.T, path string, wantKeys []string) {
		got, _ := getWaiters(t, a, path)
		if len(got) != len(wantKeys) {
			t.Fatalf("got %d waiters %+v, want keys %v", len(got), got, wantKeys)
		}
		for i, w := range got {
			if w.Key != wantKeys[i] {
				t.Errorf("entry %d key %q, want %q", i, w.Key, wantKeys[i])
			}
			wantPos := 1
			if i > 0 && got[i-1].Key == w.Key {
				wantPos = got[i-1].Position + 1
				if w.Since <= got[i-1].Since {
					t.Errorf("entry %d Since %d not after %d", i, w.Since, got[i-1].Since)
				}
			}
			if w.Position != wantPos {
				t.Errorf("entry %d position %d, want %d", i, w.Position, wantPos)
			}
			if !w.Deadline.After(time.Now()) {
				t.Errorf("entry %d deadline %v has passed", i, w.Deadline)
			}
		}
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { run(t, tc.path, tc.wantKeys) })
	}

	// The one key's queue is in the order the sessions asked.
	got, _ := getWaiters(t, a, "jobs/lock")
	for i, w := range got {
		if w.Session != waiters[i] {
			t.Errorf("position %d is %s, want %s", i+1, w.Session, waiters[i])
		}
	}
}

// A blocking read answers when the key's queue changes: a waiter joins, or
// the holder's release grants the lock to the first in line.
func TestLockWaiters_Blocking(t *testing.T) {
	a := testagent.Start(t)
	holder, waiters := queueWaiters(t, a, "q", 1)
	_, idx := getWaiters(t, a, "q")

	type answer struct {
		waiters []waiterJSON
		index   uint64
		err     error
	}
	// block starts a blocking read; its goroutine reports to the channel,
	// never to t.
	block := func(idx uint64) <-chan answer {
		ch := make(chan answer, 1)
		go func() {
			resp, err := http.Get(fmt.Sprintf("http://%s/v1/lock/waiters/q?index=%d&wait=30s", a.Addr, idx))
			if err != nil {
				ch <- answer{err: err}
				return
			}
			defer resp.Body.Close()
			var out []waiterJSON
			err = json.NewDecoder(resp.Body).Decode(&out)
			n, _ := strconv.ParseUint(resp.Header.Get("X-Consul-Index"), 10, 64)
			ch <- answer{out, n, err}
		}()
		return ch
	}
	wait := func(ch <-chan answer, what string) answer {
		t.Helper()
		select {
		case got := <-ch:
			if got.err != nil {
				t.Fatalf("blocking read after %s: %v", what, got.err)
			}
			return got
		case <-time.After(20 * time.Second):
			t.Fatalf("blocking read did not answer after %s", what)
			return answer{}
		}
	}

	// A second waiter joins.
	ch := block(idx)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	second := newSession(t, a, 0, "")
	go func() {
		defer close(done)
		a.Client.AcquireWait(ctx, "q", second, nil, time.Minute)
	}()
	got := wait(ch, "a waiter joined")
	if len(got.waiters) != 2 || got.waiters[1].Session != second || got.index <= idx {
		t.Fatalf("after a join: %+v at index %d (was %d)", got.waiters, got.index, idx)
	}

	// The holder releases: the first waiter is granted and leaves the queue.
	ch = block(got.index)
	if ok, _, err := a.Client.KV().Release(&consul.KVPair{Key: "q", Session: holder}, nil); err != nil || !ok {
		t.Fatalf("release: %v %v", ok, err)
	}
	got = wait(ch, "the lock was handed over")
	if len(got.waiters) != 1 || got.waiters[0].Session != second || got.waiters[0].Position != 1 {
		t.Fatalf("after the handover: %+v", got.waiters)
	}
	if p, _, _ := a.Client.KV().Get("q", nil); p == nil || p.Session != waiters[0] {
		t.Fatalf("key after the handover: %+v", p)
	}
}

// A client agent forwards the read to a server, like every /v1/ path it
// does not own.
func TestLockWaiters_ThroughClientAgent(t *testing.T) {
	c := testagent.StartCluster(t, 1, 1)
	server, client := c.Servers[0], c.Clients[0]
	_, waiters := queueWaiters(t, server, "fwd", 2)
	got, _ := getWaiters(t, client, "fwd")
	if len(got) != 2 || got[0].Session != waiters[0] || got[1].Session != waiters[1] {
		t.Fatalf("through the client agent: %+v, want %v", got, waiters)
	}
}
