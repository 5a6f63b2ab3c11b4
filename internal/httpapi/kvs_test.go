package httpapi_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/internal/config"
	"github.com/musterhq/muster/internal/testagent"
)

func TestKV_PutGetDelete(t *testing.T) {
	a := testagent.Start(t)
	kv := a.Client.KV()

	if _, err := kv.Put(&consul.KVPair{Key: "mykey", Value: []byte("7"), Flags: 42}, nil); err != nil {
		t.Fatal(err)
	}
	p, meta, err := kv.Get("mykey", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p == nil || string(p.Value) != "7" || p.Flags != 42 || p.CreateIndex == 0 || p.ModifyIndex != p.CreateIndex {
		t.Fatalf("get: %+v", p)
	}
	if meta.LastIndex != p.ModifyIndex || !meta.KnownLeader {
		t.Fatalf("meta: %+v", meta)
	}
	if _, err := kv.Delete("mykey", nil); err != nil {
		t.Fatal(err)
	}
	p, meta2, err := kv.Get("mykey", nil)
	if err != nil || p != nil {
		t.Fatalf("after delete: %+v %v", p, err)
	}
	if meta2.LastIndex <= meta.LastIndex {
		t.Fatalf("index of a deleted key went from %d to %d, want it to grow", meta.LastIndex, meta2.LastIndex)
	}
}

func TestKV_ListKeysAndDeleteTree(t *testing.T) {
	a := testagent.Start(t)
	kv := a.Client.KV()
	for _, k := range []string{"app/a", "app/b/c", "app/b/d", "other"} {
		if _, err := kv.Put(&consul.KVPair{Key: k, Value: []byte(k)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	pairs, _, err := kv.List("app/", nil)
	if err != nil || len(pairs) != 3 || pairs[0].Key != "app/a" {
		t.Fatalf("list: %v %v", pairs, err)
	}
	keys, _, err := kv.Keys("app/", "/", nil)
	if err != nil || strings.Join(keys, ",") != "app/a,app/b/" {
		t.Fatalf("keys with separator: %v %v", keys, err)
	}
	if _, err := kv.DeleteTree("app/", nil); err != nil {
		t.Fatal(err)
	}
	pairs, _, err = kv.List("", nil)
	if err != nil || len(pairs) != 1 || pairs[0].Key != "other" {
		t.Fatalf("after delete-tree: %v %v", pairs, err)
	}
}

func TestKV_CAS(t *testing.T) {
	a := testagent.Start(t)
	kv := a.Client.KV()
	tests := map[string]struct {
		index uint64
		want  bool
	}{
		"create when missing": {index: 0, want: true},
		"create again fails":  {index: 0, want: false},
		"stale index fails":   {index: 1, want: false},
	}
	for _, name := range []string{"create when missing", "create again fails", "stale index fails"} {
		tc := tests[name]
		ok, _, err := kv.CAS(&consul.KVPair{Key: "c", Value: []byte("v"), ModifyIndex: tc.index}, nil)
		if err != nil || ok != tc.want {
			t.Fatalf("%s: ok=%v err=%v, want %v", name, ok, err, tc.want)
		}
	}
	p, _, _ := kv.Get("c", nil)
	ok, _, err := kv.CAS(&consul.KVPair{Key: "c", Value: []byte("w"), ModifyIndex: p.ModifyIndex}, nil)
	if err != nil || !ok {
		t.Fatalf("cas with current index: %v %v", ok, err)
	}
	ok, _, err = kv.DeleteCAS(&consul.KVPair{Key: "c", ModifyIndex: p.ModifyIndex}, nil)
	if err != nil || ok {
		t.Fatalf("delete-cas with stale index: %v %v", ok, err)
	}
}

// A blocking read of one key must not wake for writes to another key, and
// must wake promptly for a write to its own.
func TestKV_BlockingQueryWakesOnlyForItsKey(t *testing.T) {
	a := testagent.Start(t)
	kv := a.Client.KV()
	kv.Put(&consul.KVPair{Key: "watched", Value: []byte("1")}, nil)
	_, meta, _ := kv.Get("watched", nil)

	type result struct {
		p   *consul.KVPair
		idx uint64
	}
	done := make(chan result, 1)
	go func() {
		p, m, err := kv.Get("watched", &consul.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 5 * time.Second})
		if err != nil {
			t.Error(err)
		}
		done <- result{p, m.LastIndex}
	}()
	for i := 0; i < 20; i++ {
		kv.Put(&consul.KVPair{Key: "unrelated", Value: []byte{byte(i)}}, nil)
	}
	select {
	case r := <-done:
		t.Fatalf("woke for unrelated writes: index %d value %q", r.idx, r.p.Value)
	case <-time.After(200 * time.Millisecond):
	}
	kv.Put(&consul.KVPair{Key: "watched", Value: []byte("2")}, nil)
	select {
	case r := <-done:
		if string(r.p.Value) != "2" || r.idx <= meta.LastIndex {
			t.Fatalf("woke with %q at %d", r.p.Value, r.idx)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocking read did not wake for its key")
	}
}

func TestKV_BlockingQueryTimesOut(t *testing.T) {
	a := testagent.Start(t)
	kv := a.Client.KV()
	kv.Put(&consul.KVPair{Key: "k", Value: []byte("1")}, nil)
	_, meta, _ := kv.Get("k", nil)
	p, meta2, err := kv.Get("k", &consul.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 50 * time.Millisecond})
	if err != nil || p == nil || meta2.LastIndex != meta.LastIndex {
		t.Fatalf("timed-out read: %v %+v %v", p, meta2, err)
	}
}

func TestKV_RawAndMissing(t *testing.T) {
	a := testagent.Start(t)
	a.Client.KV().Put(&consul.KVPair{Key: "r", Value: []byte("raw value")}, nil)
	tests := map[string]struct {
		path   string
		status int
		body   string
	}{
		"raw":          {"/v1/kv/r?raw", 200, "raw value"},
		"missing":      {"/v1/kv/nope", 404, ""},
		"missing tree": {"/v1/kv/nope/?recurse", 404, ""},
		"other dc":     {"/v1/kv/r?dc=elsewhere", 500, "No path to datacenter\n"},
		"bad index":    {"/v1/kv/r?index=x", 400, "Invalid index \"x\"\n"},
		"bad wait":     {"/v1/kv/r?index=1&wait=forever", 400, "Invalid wait time \"forever\"\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			status, body := do(t, a, "GET", tc.path, nil)
			if status != tc.status || body != tc.body {
				t.Fatalf("got %d %q, want %d %q", status, body, tc.status, tc.body)
			}
		})
	}
}

func TestKV_BadInput(t *testing.T) {
	a := testagent.Start(t, func(c *config.Config) { c.Limits.KVMaxValueSize = 1024 })
	big := bytes.Repeat([]byte("x"), 1025)
	tests := map[string]struct {
		method, path string
		body         []byte
		status       int
		code         string
		contains     string
	}{
		"value over limit":   {"PUT", "/v1/kv/big", big, 413, "too_large", "by 1 bytes"},
		"missing key":        {"PUT", "/v1/kv/", []byte("x"), 400, "bad_request", "Missing key name"},
		"control char key":   {"PUT", "/v1/kv/a%01b", []byte("x"), 400, "bad_request", "control character"},
		"bad flags":          {"PUT", "/v1/kv/k?flags=-1", nil, 400, "bad_request", "Invalid flags"},
		"bad cas":            {"PUT", "/v1/kv/k?cas=abc", nil, 400, "bad_request", "Invalid cas"},
		"acquire+release":    {"PUT", "/v1/kv/k?acquire=a&release=b", nil, 400, "bad_request", "Conflicting"},
		"unknown session":    {"PUT", "/v1/kv/k?acquire=0b1e5d9c-0000-0000-0000-000000000000", nil, 400, "session_not_found", "invalid session"},
		"bad acquire wait":   {"PUT", "/v1/kv/k?acquire=x&wait=soon", nil, 400, "bad_request", "Invalid wait"},
		"delete without key": {"DELETE", "/v1/kv/", nil, 400, "bad_request", "Missing key name"},
		"unknown endpoint":   {"GET", "/v1/nope", nil, 404, "not_found", "Invalid URL path"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resp, body := send(t, a, tc.method, tc.path, tc.body)
			if resp.StatusCode != tc.status || resp.Header.Get("X-Muster-Error-Code") != tc.code || !strings.Contains(body, tc.contains) {
				t.Fatalf("got %d %q %q, want %d %q containing %q", resp.StatusCode, resp.Header.Get("X-Muster-Error-Code"), body, tc.status, tc.code, tc.contains)
			}
		})
	}
	// Nothing was written by any refused request.
	pairs, _, err := a.Client.KV().List("", nil)
	if err != nil || len(pairs) != 0 {
		t.Fatalf("refused requests wrote %v (%v)", pairs, err)
	}
}

// A reader of a key that does not exist, holding the index it was given,
// blocks until the key is written (it must not spin on index 1).
func TestKV_BlockingOnMissingKey(t *testing.T) {
	a := testagent.Start(t)
	kv := a.Client.KV()
	_, meta, _ := kv.Get("ghost", nil)
	done := make(chan *consul.KVPair, 1)
	go func() {
		p, _, _ := kv.Get("ghost", &consul.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 5 * time.Second})
		done <- p
	}()
	select {
	case p := <-done:
		t.Fatalf("returned at once with %+v", p)
	case <-time.After(200 * time.Millisecond):
	}
	kv.Put(&consul.KVPair{Key: "ghost", Value: []byte("boo")}, nil)
	if p := <-done; p == nil || string(p.Value) != "boo" {
		t.Fatalf("woke with %+v", p)
	}
}

// A held lock refuses an unknown session with its 400, even though refusals
// of known sessions are answered without a Raft entry.
func TestKV_AcquireHeldKeyUnknownSession(t *testing.T) {
	a := testagent.Start(t)
	sid, _, _ := a.Client.Session().CreateNoChecks(nil, nil)
	a.Client.KV().Acquire(&consul.KVPair{Key: "held", Session: sid}, nil)
	before := a.FSMState().LatestIndex()
	other, _, _ := a.Client.Session().CreateNoChecks(nil, nil)
	ok, _, err := a.Client.KV().Acquire(&consul.KVPair{Key: "held", Session: other}, nil)
	if err != nil || ok {
		t.Fatalf("acquire of a held key: %v %v", ok, err)
	}
	if after := a.FSMState().LatestIndex(); after != before+1 { // only the session create
		t.Fatalf("a refused acquire wrote to the log: index %d -> %d", before, after)
	}
	status, _ := do(t, a, "PUT", "/v1/kv/held?acquire=0b1e5d9c-0000-0000-0000-000000000000", nil)
	if status != 400 {
		t.Fatalf("unknown session on a held key: %d, want 400", status)
	}
}
