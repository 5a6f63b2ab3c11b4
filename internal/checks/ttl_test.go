package checks

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTTLExpires(t *testing.T) {
	rec := newRecorder(t)
	start(t, Spec{ID: "app", TTL: 20 * time.Millisecond}, rec)
	u := rec.waitFor(t, Critical)
	if u.output != "TTL expired" {
		t.Errorf("output %q, want %q", u.output, "TTL expired")
	}
	if all := rec.all(); all[0] != u {
		t.Errorf("updates before the expiry: %+v; the caller reports the initial status", all)
	}
}

func TestSetTTL(t *testing.T) {
	rec := newRecorder(t)
	r := start(t, Spec{ID: "app", TTL: time.Hour}, rec)
	for _, want := range []update{
		{"app", Passing, "ok"},
		{"app", Warning, "slow"},
		{"app", Critical, "broken"},
		{"app", Passing, ""},
	} {
		if err := r.SetTTL(want.status, want.output); err != nil {
			t.Fatalf("SetTTL(%s): %v", want.status, err)
		}
		// SetTTL reports before it returns.
		if all := rec.all(); all[len(all)-1] != want {
			t.Errorf("last update %+v, want %+v", all[len(all)-1], want)
		}
	}
}

// After an expiry, SetTTL re-arms the timer, and the next expiry carries the
// last output.
func TestTTLExpiresAgainAfterSetTTL(t *testing.T) {
	rec := newRecorder(t)
	r := start(t, Spec{ID: "app", TTL: 20 * time.Millisecond}, rec)
	rec.waitFor(t, Critical)
	if err := r.SetTTL(Passing, "all good"); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, Passing)
	u := rec.waitFor(t, Critical)
	if want := "TTL expired (last output before timeout follows): all good"; u.output != want {
		t.Errorf("output %q, want %q", u.output, want)
	}
}

// An expiry that fired just before a SetTTL, and waited for the lock, is
// dropped: the TTL was renewed.
func TestTTLStaleExpiryIgnored(t *testing.T) {
	rec := newRecorder(t)
	r := start(t, Spec{ID: "app", TTL: time.Hour}, rec)
	r.mu.Lock()
	stale := r.ttlGen
	r.mu.Unlock()
	if err := r.SetTTL(Passing, "ok"); err != nil {
		t.Fatal(err)
	}
	r.expireTTL(stale)
	if all := rec.all(); len(all) != 1 {
		t.Errorf("updates %+v, want only the SetTTL", all)
	}
	r.mu.Lock()
	current := r.ttlGen
	r.mu.Unlock()
	r.expireTTL(current)
	if all := rec.all(); len(all) != 2 || all[1].status != Critical {
		t.Errorf("updates %+v, want the SetTTL and an expiry", all)
	}
}

func TestSetTTLTruncatesOutput(t *testing.T) {
	rec := newRecorder(t)
	r := start(t, Spec{ID: "app", TTL: time.Hour, OutputMaxSize: 5}, rec)
	if err := r.SetTTL(Passing, "0123456789"); err != nil {
		t.Fatal(err)
	}
	if got, want := rec.all()[0].output, "01234 ... (captured 5 of 10 bytes)"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	// A multi-byte rune is not cut in half.
	if err := r.SetTTL(Passing, "abcdé!"); err != nil {
		t.Fatal(err)
	}
	if got, want := rec.all()[1].output, "abcd ... (captured 4 of 7 bytes)"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

func TestSetTTLErrors(t *testing.T) {
	rec := newRecorder(t)
	tcp := start(t, Spec{ID: "db", TCP: closedAddr(t), Interval: time.Hour}, rec)
	if err := tcp.SetTTL(Passing, ""); !errors.Is(err, ErrNotTTL) || !strings.Contains(err.Error(), `"db" is a tcp check`) {
		t.Errorf("SetTTL on a TCP check: %v, want ErrNotTTL", err)
	}

	ttl := start(t, Spec{ID: "app", TTL: time.Hour}, rec)
	if err := ttl.SetTTL("ok", ""); !errors.Is(err, ErrInvalidStatus) {
		t.Errorf("SetTTL(ok): %v, want ErrInvalidStatus", err)
	}
	ttl.Stop()
	if err := ttl.SetTTL(Passing, ""); !errors.Is(err, ErrStopped) {
		t.Errorf("SetTTL after Stop: %v, want ErrStopped", err)
	}
	if all := rec.all(); len(all) != 0 {
		t.Errorf("updates %+v, want none", all)
	}
}

func TestTTLStop(t *testing.T) {
	stopped := newRecorder(t)
	r := start(t, Spec{ID: "stopped", TTL: 20 * time.Millisecond}, stopped)
	r.Stop()
	stopped.seal()

	// A check started later with the same TTL expires; the stopped one,
	// whose timer would have fired first, must not.
	control := newRecorder(t)
	start(t, Spec{ID: "control", TTL: 20 * time.Millisecond}, control)
	control.waitFor(t, Critical)
	if all := stopped.all(); len(all) != 0 {
		t.Errorf("stopped check notified: %+v", all)
	}
}
