package leader

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

type expiries struct {
	mu  sync.Mutex
	ids []string
	at  []time.Time
}

func (e *expiries) expire(id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ids = append(e.ids, id)
	e.at = append(e.at, time.Now())
	return nil
}

func (e *expiries) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.ids)
}

func waitCount(t *testing.T, e *expiries, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for e.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d expiries after %v, want %d", e.count(), within, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSessionTimers(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Run("expires after ttl plus grace", func(t *testing.T) {
		var e expiries
		timers := NewSessionTimers(20*time.Millisecond, e.expire, quiet)
		start := time.Now()
		timers.Reset("a", 30*time.Millisecond)
		waitCount(t, &e, 1, 2*time.Second)
		if el := e.at[0].Sub(start); el < 50*time.Millisecond {
			t.Fatalf("expired after %v, before ttl+grace", el)
		}
	})
	t.Run("reset postpones", func(t *testing.T) {
		var e expiries
		timers := NewSessionTimers(0, e.expire, quiet)
		timers.Reset("a", 100*time.Millisecond)
		for i := 0; i < 5; i++ {
			time.Sleep(40 * time.Millisecond)
			timers.Reset("a", 100*time.Millisecond)
		}
		if e.count() != 0 {
			t.Fatal("renewed session expired")
		}
		waitCount(t, &e, 1, 2*time.Second)
	})
	t.Run("clear and clear all stop timers", func(t *testing.T) {
		var e expiries
		timers := NewSessionTimers(0, e.expire, quiet)
		timers.Reset("a", 20*time.Millisecond)
		timers.Reset("b", 20*time.Millisecond)
		timers.Reset("c", 20*time.Millisecond)
		timers.Clear("a")
		timers.ClearAll()
		timers.Reset("d", 20*time.Millisecond)
		waitCount(t, &e, 1, 2*time.Second)
		time.Sleep(60 * time.Millisecond)
		if e.count() != 1 || e.ids[0] != "d" {
			t.Fatalf("expired %v, want only d", e.ids)
		}
	})
}
