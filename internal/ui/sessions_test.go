package ui_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"
)

// sessCreate creates a session bound to no check, with a 1 ms lock-delay
// (so a lock freed by an invalidation is handed over at once).
func sessCreate(t *testing.T, b *browser, name, behavior string) string {
	t.Helper()
	id, _, err := b.agent.Client.Session().CreateNoChecks(&consul.SessionEntry{
		Name: name, Behavior: behavior, LockDelay: time.Millisecond}, nil)
	if err != nil {
		t.Fatalf("create session %s: %v", name, err)
	}
	return id
}

// The page follows sessions, held locks with their fencing tokens and the
// fair locks' queues live, and invalidates a session.
func TestSessionsAndLocks(t *testing.T) {
	b := newBrowser(t, nil, 1280, 800)
	b.open(t, "#/sessions", "#sessions")
	b.waitText(t, "#locks", "No key is locked", 10*time.Second)

	holder := sessCreate(t, b, "holder", "release")
	b.waitText(t, fmt.Sprintf(`[data-session="%s"]`, holder), "holder", 10*time.Second)
	if got := b.text(t, "#sessions"); !sessContainsAll(got, b.agent.Config.NodeName, "release", "1ms") {
		t.Errorf("sessions section %q lacks the node, behavior or lock-delay", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	got, err := b.agent.Client.Acquire(ctx, "jobs/nightly", holder, []byte("run"))
	if err != nil || !got.Acquired {
		t.Fatalf("acquire: %+v %v", got, err)
	}
	lockRow := `[data-lock="jobs/nightly"]`
	b.waitText(t, lockRow+" [data-holder]", holder, 10*time.Second)
	b.waitText(t, lockRow+" [data-fencing-token]", fmt.Sprint(got.FencingToken), 10*time.Second)
	b.waitText(t, fmt.Sprintf(`[data-held="%s"]`, holder), "jobs/nightly", 10*time.Second)

	// A fair waiter queues behind the holder.
	waiter := sessCreate(t, b, "waiter", "delete")
	granted := make(chan uint64, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		got, err := b.agent.Client.AcquireWait(ctx, "jobs/nightly", waiter, []byte("run"), 50*time.Second)
		if err == nil && got.Acquired {
			granted <- got.FencingToken
		}
		close(granted)
	}()
	b.waitText(t, fmt.Sprintf(`%s [data-waiter="%s"][data-position="1"]`, lockRow, waiter), "waiter", 10*time.Second)
	b.screenshot(t, "sessions")

	// Invalidate the holder through the UI: it disappears, the API no
	// longer knows it, and the lock passes to the waiter.
	kvAcceptConfirms(t, b)
	kvClick(t, b, fmt.Sprintf(`[data-invalidate="%s"]`, holder))
	b.waitJS(t, "holder gone", fmt.Sprintf(`!document.querySelector('[data-session="%s"]')`, holder), true, 10*time.Second)
	var asked int
	b.eval(t, `window.kvConfirms`, &asked)
	if asked != 1 {
		t.Errorf("confirm() asked %d times, want 1", asked)
	}
	if s, _, err := b.agent.Client.Session().Info(holder, nil); err != nil || s != nil {
		t.Fatalf("session after Invalidate: %+v %v", s, err)
	}
	var token uint64
	select {
	case token = <-granted:
	case <-time.After(20 * time.Second):
		t.Fatal("the waiter was not granted the lock")
	}
	b.waitText(t, lockRow+" [data-holder]", waiter, 10*time.Second)
	b.waitText(t, lockRow+" [data-fencing-token]", fmt.Sprint(token), 10*time.Second)
	b.waitText(t, lockRow+" [data-queue]", "none", 10*time.Second)
}

// The Sessions page fits a phone's width: its tables scroll inside their
// frame, the body does not.
func TestSessionsNarrow(t *testing.T) {
	b := newBrowser(t, nil, 390, 844)
	kvNarrow(t, b)
	id := sessCreate(t, b, "a-session-with-a-long-name-for-a-narrow-screen", "release")
	if got, err := b.agent.Client.Acquire(context.Background(), "narrow/lock/with/a/long/key/name", id, nil); err != nil || !got.Acquired {
		t.Fatalf("acquire: %+v %v", got, err)
	}
	b.open(t, "#/sessions", "#sessions")
	b.waitText(t, "#locks", "narrow/lock", 10*time.Second)
	kvNoOverflow(t, b, "sessions")
	b.screenshot(t, "sessions-narrow")
	// The Invalidate button is reachable by scrolling its table.
	var ok bool
	b.eval(t, fmt.Sprintf(`(() => { const btn = document.querySelector('[data-invalidate="%s"]');
		btn.scrollIntoView({inline: 'end'}); const r = btn.getBoundingClientRect();
		return r.width > 0 && r.right <= window.innerWidth + 1; })()`, id), &ok)
	if !ok {
		t.Error("Invalidate is not reachable at 390px")
	}
	kvNoOverflow(t, b, "sessions after scrolling")
}

func sessContainsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
