package checks

import (
	"net"
	"strings"
	"testing"
)

// newTCPListener listens on a loopback port and accepts (and closes)
// connections until t's cleanup closes it.
func newTCPListener(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	return l
}

func TestTCPUp(t *testing.T) {
	addr := newTCPListener(t).Addr().String()
	rec := newRecorder(t)
	start(t, Spec{ID: "db", TCP: addr, Interval: testInterval}, rec)
	u := rec.waitFor(t, Passing)
	if want := "TCP connect " + addr + ": Success"; u.output != want {
		t.Errorf("output %q, want %q", u.output, want)
	}
}

func TestTCPDown(t *testing.T) {
	rec := newRecorder(t)
	start(t, Spec{ID: "db", TCP: closedAddr(t), Interval: testInterval}, rec)
	u := rec.waitFor(t, Critical)
	if !strings.Contains(u.output, "connection refused") {
		t.Errorf("output %q, want the dial error", u.output)
	}
}

func TestTCPGoesDown(t *testing.T) {
	l := newTCPListener(t)
	rec := newRecorder(t)
	start(t, Spec{ID: "db", TCP: l.Addr().String(), Interval: testInterval}, rec)
	rec.waitFor(t, Passing)
	l.Close()
	rec.waitFor(t, Critical)
}
