package checks

import (
	"net"
	"strings"
	"testing"
	"time"
)

// newUDPListener listens on a loopback port; if echo, it answers every
// datagram with "pong". t's cleanup closes it.
func newUDPListener(t *testing.T, echo bool) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if echo {
				pc.WriteTo([]byte("pong"), from)
			}
		}
	}()
	return pc
}

func TestUDP(t *testing.T) {
	type testcase struct {
		addr       func(t *testing.T) string
		wantStatus string
		wantOutput string
	}
	run := func(t *testing.T, tc testcase) {
		addr := tc.addr(t)
		rec := newRecorder(t)
		// A silent service passes when the read times out, so keep it short.
		start(t, Spec{ID: "dns", UDP: addr, Interval: testInterval, Timeout: 20 * time.Millisecond}, rec)
		u := rec.waitMatch(t, "any status", func(update) bool { return true })
		if u.status != tc.wantStatus || !strings.Contains(u.output, tc.wantOutput) {
			t.Errorf("got %s %q, want %s and %q", u.status, u.output, tc.wantStatus, tc.wantOutput)
		}
	}

	cases := map[string]testcase{
		"silent service is passing": {
			addr:       func(t *testing.T) string { return newUDPListener(t, false).LocalAddr().String() },
			wantStatus: Passing, wantOutput: "UDP connect 127.0.0.1:",
		},
		"answering service is passing": {
			addr:       func(t *testing.T) string { return newUDPListener(t, true).LocalAddr().String() },
			wantStatus: Passing, wantOutput: ": Success",
		},
		"port unreachable is critical": {
			addr: func(t *testing.T) string {
				pc := newUDPListener(t, false)
				pc.Close()
				return pc.LocalAddr().String()
			},
			wantStatus: Critical, wantOutput: "connection refused",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}
