package leader

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

// fakeTimer is a timer the test fires by hand.
type fakeTimer struct {
	d       time.Duration
	f       func()
	stopped bool
}

func (ft *fakeTimer) Stop() bool { ft.stopped = true; return true }

// harness runs SessionTimers on fake timers and records expiries.
type harness struct {
	*SessionTimers
	armed   map[string][]*fakeTimer // per session, in arming order
	expired []string
	fail    int // how many Expire calls fail before one succeeds
}

func newHarness(grace time.Duration) *harness {
	h := &harness{armed: map[string][]*fakeTimer{}}
	h.SessionTimers = NewSessionTimers(grace, func(id string) error {
		if h.fail > 0 {
			h.fail--
			return errors.New("cluster: apply: timed out enqueuing operation")
		}
		h.expired = append(h.expired, id)
		return nil
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	h.afterFunc = func(id string, d time.Duration, f func()) stopper {
		ft := &fakeTimer{d: d, f: f}
		h.armed[id] = append(h.armed[id], ft)
		return ft
	}
	return h
}

// last is the most recently armed timer of id.
func (h *harness) last(t *testing.T, id string) *fakeTimer {
	t.Helper()
	ts := h.armed[id]
	if len(ts) == 0 {
		t.Fatalf("no timer armed for %s", id)
	}
	return ts[len(ts)-1]
}

func TestSessionTimers(t *testing.T) {
	tests := map[string]func(t *testing.T, h *harness){
		"armed at ttl plus grace, not 2x ttl": func(t *testing.T, h *harness) {
			h.Reset("a", 10*time.Second)
			if d := h.last(t, "a").d; d != 11*time.Second {
				t.Fatalf("armed for %v, want 11s", d)
			}
			h.last(t, "a").f()
			if len(h.expired) != 1 || h.expired[0] != "a" {
				t.Fatalf("expired %v", h.expired)
			}
		},
		"reset replaces the timer": func(t *testing.T, h *harness) {
			h.Reset("a", 10*time.Second)
			first := h.last(t, "a")
			h.Reset("a", 10*time.Second)
			if !first.stopped {
				t.Fatal("old timer not stopped")
			}
			first.f() // fired just as the renew replaced it
			if len(h.expired) != 0 {
				t.Fatalf("a renewed session expired by its old timer: %v", h.expired)
			}
			h.last(t, "a").f()
			if len(h.expired) != 1 {
				t.Fatalf("expired %v", h.expired)
			}
		},
		"failed expiry is retried": func(t *testing.T, h *harness) {
			h.fail = 2
			h.Reset("a", 10*time.Second)
			for i := 0; i < 3; i++ {
				h.last(t, "a").f()
			}
			if n := len(h.armed["a"]); n != 3 || h.last(t, "a").d != expiryRetry {
				t.Fatalf("armed %d timers, last for %v; want 3, the retries at %v", n, h.last(t, "a").d, expiryRetry)
			}
			if len(h.expired) != 1 {
				t.Fatalf("expired %v after two failures", h.expired)
			}
		},
		"no retry after leadership is lost": func(t *testing.T, h *harness) {
			h.fail = 1
			h.Reset("a", 10*time.Second)
			fire := h.last(t, "a").f
			h.Expire = func(id string) error {
				h.ClearAll() // leadership lost while the expiry was in flight
				return errors.New("cluster: not the leader")
			}
			fire()
			if n := len(h.armed["a"]); n != 1 {
				t.Fatalf("re-armed after losing leadership (%d timers)", n)
			}
		},
		"clear and clear all stop timers": func(t *testing.T, h *harness) {
			h.Reset("a", 10*time.Second)
			h.Reset("b", 10*time.Second)
			h.Clear("a")
			h.ClearAll()
			if !h.last(t, "a").stopped || !h.last(t, "b").stopped {
				t.Fatal("timers left running")
			}
			h.last(t, "a").f()
			h.last(t, "b").f()
			if len(h.expired) != 0 {
				t.Fatalf("cleared sessions expired: %v", h.expired)
			}
		},
	}
	for name, run := range tests {
		t.Run(name, func(t *testing.T) { run(t, newHarness(time.Second)) })
	}
}

// The real clock: an armed timer fires by itself.
func TestSessionTimersRealClock(t *testing.T) {
	done := make(chan string, 1)
	timers := NewSessionTimers(time.Millisecond, func(id string) error { done <- id; return nil },
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	timers.Reset("a", time.Millisecond)
	select {
	case id := <-done:
		if id != "a" {
			t.Fatalf("expired %q", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("timer never fired")
	}
}
