package cluster

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/musterhq/muster/internal/fsm"
)

// TestReady: a leader is not ready until MarkReady and again not after
// MarkUnready; Ready agrees with WaitReady at every step.
func TestReady(t *testing.T) {
	c, err := New(Config{NodeID: "n1", Addr: "127.0.0.1:0", Dev: true, Bootstrap: true,
		DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, fsm.New())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown() })
	deadline := time.Now().Add(10 * time.Second)
	for !c.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("no leadership")
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitReady := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		return c.WaitReady(ctx)
	}
	check := func(step string, want bool) {
		t.Helper()
		err := waitReady()
		if c.Ready() != want || (err == nil) != want {
			t.Errorf("%s: Ready() = %v, WaitReady = %v; want ready %v", step, c.Ready(), err, want)
		}
		if !want && !errors.Is(err, ErrNotLeader) {
			t.Errorf("%s: WaitReady = %v, want ErrNotLeader", step, err)
		}
	}
	c.MarkUnready()
	check("after MarkUnready", false)
	if err := c.MarkReady(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	check("after MarkReady", true)
	c.MarkUnready()
	check("after MarkUnready again", false)
}
