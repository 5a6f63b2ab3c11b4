package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
)

// step is one scripted answer of fakeKV: an HTTP status, or (status 0) the
// key's value at an index.
type step struct {
	status int
	index  uint64
	value  string
}

// fakeKV serves GET /v1/kv/k from a script, one step per request, and
// records each request's ?index. When the script runs out it blocks, as a
// blocking query with nothing new does, until the request goes away.
type fakeKV struct {
	mu      sync.Mutex
	script  []step
	indexes []string // ?index of each request, "" for none
}

func (f *fakeKV) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.indexes = append(f.indexes, r.URL.Query().Get("index"))
	if len(f.script) == 0 {
		f.mu.Unlock()
		<-r.Context().Done()
		return
	}
	s := f.script[0]
	f.script = f.script[1:]
	f.mu.Unlock()
	if s.status != 0 {
		http.Error(w, "scripted failure", s.status)
		return
	}
	w.Header().Set("X-Consul-Index", strconv.FormatUint(s.index, 10))
	w.Header().Set("X-Consul-KnownLeader", "true")
	w.Header().Set("X-Consul-LastContact", "0")
	// The pair itself carries no index: a view changes only with its value.
	fmt.Fprintf(w, `[{"Key":"k","Value":%q}]`, base64.StdEncoding.EncodeToString([]byte(s.value)))
}

// requests is the ?index of every request so far.
func (f *fakeKV) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.indexes...)
}

// delivery is one call of the handler.
type delivery struct {
	index uint64
	value string
}

// recorder is a watchHandler that records what it gets, failing with err
// if set.
type recorder struct {
	mu  sync.Mutex
	got []delivery
	err error
}

func (r *recorder) handle(_ context.Context, index uint64, view []byte) error {
	var p consulapi.KVPair
	if err := json.Unmarshal(view, &p); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, delivery{index, string(p.Value)})
	return r.err
}

func (r *recorder) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// loopRun is a watch loop running in a goroutine.
type loopRun struct {
	cancel context.CancelFunc
	done   chan error // receives run's result, once
	once   sync.Once
	err    error
}

// wait waits for run to return by itself and returns its result.
func (l *loopRun) wait(t *testing.T) error {
	t.Helper()
	l.once.Do(func() {
		select {
		case l.err = <-l.done:
		case <-time.After(10 * time.Second):
			t.Fatal("watch loop still running after 10s")
		}
	})
	return l.err
}

// stop cancels the loop's context, as SIGINT does, and returns run's
// result.
func (l *loopRun) stop(t *testing.T) error {
	t.Helper()
	l.cancel()
	return l.wait(t)
}

// startLoop runs a key watch on k, served by script, until the test ends
// or it is stopped.
func startLoop(t *testing.T, script []step, rec *recorder, retryMin, retryMax time.Duration) (*fakeKV, *lockedBuffer, *loopRun) {
	t.Helper()
	f := &fakeKV{script: script}
	srv := httptest.NewServer(f)
	c, err := api.NewClient(&api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	log := &lockedBuffer{}
	w := &watchLoop{
		typ: "key", handle: rec.handle, log: log, retryMin: retryMin, retryMax: retryMax,
		query: func(c *api.Client, q *consulapi.QueryOptions) (any, *consulapi.QueryMeta, error) {
			p, meta, err := c.KV().Get("k", q)
			return p, meta, err
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &loopRun{cancel: cancel, done: make(chan error, 1)}
	go func() { l.done <- w.run(ctx, c) }()
	t.Cleanup(func() {
		l.stop(t)
		srv.Close()
	})
	return f, log, l
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWatchLoop(t *testing.T) {
	type testcase struct {
		script        []step
		handlerErr    error
		wantDelivered []delivery
		wantRequests  []string // ?index of each request, the last one left blocking
		wantErr       string   // run's error, "" for nil
		wantRetries   int      // "errored" lines in the log
	}
	run := func(t *testing.T, tc testcase) {
		rec := &recorder{err: tc.handlerErr}
		f, log, l := startLoop(t, tc.script, rec, time.Millisecond, 2*time.Millisecond)
		var err error
		if tc.wantErr != "" {
			err = l.wait(t) // the loop ends by itself
		} else {
			// The last request blocks: every answer before it has been
			// handled.
			waitFor(t, "the scripted requests", func() bool { return len(f.requests()) >= len(tc.wantRequests) })
			err = l.stop(t)
		}
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("run = %v, want %q", err, tc.wantErr)
		}
		if got := rec.deliveries(); fmt.Sprint(got) != fmt.Sprint(tc.wantDelivered) {
			t.Errorf("delivered %v, want %v", got, tc.wantDelivered)
		}
		if got := f.requests(); strings.Join(got, ",") != strings.Join(tc.wantRequests, ",") {
			t.Errorf("requested indexes %q, want %q", got, tc.wantRequests)
		}
		if got := strings.Count(log.String(), "errored"); got != tc.wantRetries {
			t.Errorf("log has %d retries, want %d:\n%s", got, tc.wantRetries, log.String())
		}
	}
	cases := map[string]testcase{
		"first view at once, then only changes": {
			script: []step{
				{index: 5, value: "a"},
				{index: 6, value: "a"}, // index moved, view did not: nothing delivered
				{index: 6, value: "a"}, // the wait ran out
				{index: 7, value: "b"},
			},
			wantDelivered: []delivery{{5, "a"}, {7, "b"}},
			wantRequests:  []string{"", "5", "6", "6", "7"},
		},
		"errors are retried, and recovery delivers only a change": {
			script: []step{
				{index: 5, value: "a"},
				{status: http.StatusInternalServerError},
				{status: http.StatusServiceUnavailable},
				{index: 5, value: "a"}, // same view after the outage: nothing delivered
				{status: http.StatusInternalServerError},
				{index: 9, value: "b"},
			},
			wantDelivered: []delivery{{5, "a"}, {9, "b"}},
			wantRequests:  []string{"", "5", "", "", "5", "", "9"},
			wantRetries:   3,
		},
		"an index going backwards starts over": {
			script: []step{
				{index: 7, value: "a"},
				{index: 3, value: "b"}, // a restore: delivered, then a read that answers at once
				{index: 3, value: "b"},
			},
			wantDelivered: []delivery{{7, "a"}, {3, "b"}},
			wantRequests:  []string{"", "7", "", "3"},
		},
		"an index of 0 still blocks": {
			script:        []step{{index: 0, value: "a"}},
			wantDelivered: []delivery{{0, "a"}},
			wantRequests:  []string{"", "1"},
		},
		"a refused query ends the watch": {
			script:        []step{{index: 5, value: "a"}, {status: http.StatusBadRequest}},
			wantDelivered: []delivery{{5, "a"}},
			wantRequests:  []string{"", "5"},
			wantErr:       "querying muster agent: Unexpected response code: 400",
		},
		"a failing handler ends the watch": {
			script:        []step{{index: 5, value: "a"}},
			handlerErr:    errors.New("handler failed"),
			wantDelivered: []delivery{{5, "a"}},
			wantRequests:  []string{""},
			wantErr:       "handler failed",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

// TestWatchLoopStopsDuringRetryPause checks that cancelling ends a watch
// waiting to retry, however long the pause.
func TestWatchLoopStopsDuringRetryPause(t *testing.T) {
	rec := &recorder{}
	_, log, l := startLoop(t, []step{{status: http.StatusInternalServerError}}, rec, time.Hour, time.Hour)
	waitFor(t, "the failed read", func() bool { return strings.Contains(log.String(), "retrying in 1h0m0s") })
	if err := l.stop(t); err != nil {
		t.Errorf("run = %v, want nil", err)
	}
}

func TestRetryDelay(t *testing.T) {
	const lo, hi = time.Second, time.Minute
	cases := map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 6: 32 * time.Second, 7: time.Minute, 1000: time.Minute}
	for n, want := range cases {
		if got := retryDelay(n, lo, hi); got != want {
			t.Errorf("retryDelay(%d) = %v, want %v", n, got, want)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe to write and read at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
