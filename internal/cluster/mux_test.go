package cluster

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/musterhq/muster/internal/forward"
)

// listenMux opens a Mux on 127.0.0.1:0, closed at cleanup.
func listenMux(t *testing.T) *Mux {
	t.Helper()
	m, err := Listen("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// acceptResult is one Accept's outcome.
type acceptResult struct {
	conn net.Conn
	err  error
}

// acceptAsync runs one Accept on ln and delivers its outcome.
func acceptAsync(ln net.Listener) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		c, err := ln.Accept()
		ch <- acceptResult{c, err}
	}()
	return ch
}

func waitAccept(t *testing.T, ch <-chan acceptResult) acceptResult {
	t.Helper()
	select {
	case r := <-ch:
		if r.conn != nil {
			t.Cleanup(func() { r.conn.Close() })
		}
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return")
		return acceptResult{}
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

// serveHTTP serves the mux's HTTP half as the agent does (HTTP/1.1 and
// h2c); the handler reports the protocol and echoes the body.
func serveHTTP(t *testing.T, m *Mux) <-chan error {
	t.Helper()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Proto", r.Proto)
			fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, b)
		}),
		Protocols: forward.ServerProtocols(true), HTTP2: forward.ServerHTTP2(),
		ReadHeaderTimeout: 5 * time.Second,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(m.HTTP()) }()
	t.Cleanup(func() { srv.Close() })
	return done
}

// TestMuxRaft: a connection whose first byte is 0x01 reaches the Raft
// half's Accept, which reads what follows the 0x01; both directions work.
func TestMuxRaft(t *testing.T) {
	big := bytes.Repeat([]byte{0x01, 0x00, 'G', 'E', 'T', 0xff}, 50000)
	cases := []struct {
		name   string
		writes [][]byte // written in order by the client after connecting
		want   []byte   // what the Raft side reads
	}{
		{name: "marker and payload together", writes: [][]byte{{0x01, 'h', 'e', 'l', 'l', 'o'}}, want: []byte("hello")},
		{name: "marker then payload", writes: [][]byte{{0x01}, []byte("later")}, want: []byte("later")},
		{name: "payload starting with 0x01", writes: [][]byte{{0x01, 0x01, 0x02}}, want: []byte{0x01, 0x02}},
		{name: "payload that looks like HTTP", writes: [][]byte{append([]byte{0x01}, "GET / HTTP/1.1\r\n\r\n"...)},
			want: []byte("GET / HTTP/1.1\r\n\r\n")},
		{name: "large payload", writes: [][]byte{append([]byte{0x01}, big...)}, want: big},
	}
	m := listenMux(t)
	raft := raftLayer{m.raft}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			accepted := acceptAsync(raft)
			c := dial(t, m.Addr().String())
			go func() {
				for _, w := range tc.writes {
					if _, err := c.Write(w); err != nil {
						return
					}
				}
			}()
			r := waitAccept(t, accepted)
			if r.err != nil {
				t.Fatalf("Accept: %v", r.err)
			}
			r.conn.SetDeadline(time.Now().Add(5 * time.Second))
			got := make([]byte, len(tc.want))
			if _, err := io.ReadFull(r.conn, got); err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("raft side read %d bytes %q...; want %q...", len(got), trunc(got), trunc(tc.want))
			}
			// And back.
			if _, err := r.conn.Write([]byte("pong")); err != nil {
				t.Fatal(err)
			}
			back := make([]byte, 4)
			if _, err := io.ReadFull(c, back); err != nil || string(back) != "pong" {
				t.Fatalf("client read %q, %v", back, err)
			}
			if r.conn.LocalAddr().String() != m.Addr().String() {
				t.Errorf("accepted conn local addr %s; want %s", r.conn.LocalAddr(), m.Addr())
			}
		})
	}
}

func trunc(b []byte) []byte { return b[:min(len(b), 16)] }

// TestMuxRaftLayerDial: the stream layer's Dial reaches another mux's
// Raft half (it sends the 0x01 itself), and its Addr is the advertised one.
func TestMuxRaftLayerDial(t *testing.T) {
	a, b := listenMux(t), listenMux(t)
	la, lb := raftLayer{a.raft}, raftLayer{b.raft}
	if la.Addr().String() != a.Addr().String() {
		t.Errorf("raft layer Addr %s; want %s", la.Addr(), a.Addr())
	}
	accepted := acceptAsync(lb)
	c, err := la.Dial(raft.ServerAddress(b.Addr().String()), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte("append entries")); err != nil {
		t.Fatal(err)
	}
	r := waitAccept(t, accepted)
	if r.err != nil {
		t.Fatal(r.err)
	}
	r.conn.SetDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len("append entries"))
	if _, err := io.ReadFull(r.conn, got); err != nil || string(got) != "append entries" {
		t.Fatalf("read %q, %v", got, err)
	}

	// A closed port: Dial fails.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	if c, err := la.Dial(raft.ServerAddress(deadAddr), time.Second); err == nil {
		c.Close()
		t.Fatal("Dial to a closed port succeeded")
	}
}

// TestMuxHTTP: HTTP/1.1 and h2c requests on the server port reach the
// HTTP half, alongside Raft connections on the same port.
func TestMuxHTTP(t *testing.T) {
	m := listenMux(t)
	serveHTTP(t, m)

	h1 := &http.Transport{}
	h2c := &http.Transport{Protocols: forward.ServerProtocols(false)}
	t.Cleanup(h1.CloseIdleConnections)
	t.Cleanup(h2c.CloseIdleConnections)

	// A Raft connection is open (and idle) the whole time.
	raftAccepted := acceptAsync(raftLayer{m.raft})
	rc := dial(t, m.Addr().String())
	if _, err := rc.Write([]byte{0x01, 'r'}); err != nil {
		t.Fatal(err)
	}
	if r := waitAccept(t, raftAccepted); r.err != nil {
		t.Fatal(r.err)
	}

	cases := []struct {
		name      string
		transport *http.Transport
		method    string
		body      string
		wantProto string
	}{
		{name: "http1 get", transport: h1, method: "GET", wantProto: "HTTP/1.1"},
		{name: "http1 put", transport: h1, method: "PUT", body: "v1", wantProto: "HTTP/1.1"},
		{name: "h2c get", transport: h2c, method: "GET", wantProto: "HTTP/2.0"},
		{name: "h2c put", transport: h2c, method: "PUT", body: strings.Repeat("x", 100<<10), wantProto: "HTTP/2.0"},
		{name: "h2c reuses its connection", transport: h2c, method: "DELETE", wantProto: "HTTP/2.0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &http.Client{Transport: tc.transport, Timeout: 5 * time.Second}
			req, err := http.NewRequest(tc.method, "http://"+m.Addr().String()+"/v1/kv/x", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || resp.Header.Get("X-Proto") != tc.wantProto ||
				string(b) != tc.method+" /v1/kv/x "+tc.body {
				t.Fatalf("answer %d proto %q body %d bytes; want 200 %s", resp.StatusCode,
					resp.Header.Get("X-Proto"), len(b), tc.wantProto)
			}
		})
	}

	t.Run("raw http1 on a raw conn", func(t *testing.T) {
		c := dial(t, m.Addr().String())
		io.WriteString(c, "GET /raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "GET /raw " {
			t.Fatalf("body %q", b)
		}
	})
}

// TestMuxSilentPeer: a connection that sends nothing does not hold up the
// routing of others.
func TestMuxSilentPeer(t *testing.T) {
	m := listenMux(t)
	serveHTTP(t, m)
	for range 3 {
		dial(t, m.Addr().String()) // connects and stays silent
	}
	accepted := acceptAsync(raftLayer{m.raft})
	c := dial(t, m.Addr().String())
	c.Write([]byte{0x01, 'x'})
	if r := waitAccept(t, accepted); r.err != nil {
		t.Fatal(r.err)
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + m.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// TestMuxClose: Close makes both halves' Accept (pending and later) return
// ErrMuxClosed, stops an HTTP server on the half, and closes the port.
func TestMuxClose(t *testing.T) {
	m, err := Listen("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	served := serveHTTP(t, m)
	pendingRaft := acceptAsync(raftLayer{m.raft})

	// The port works before Close.
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + m.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	if r := waitAccept(t, pendingRaft); !errors.Is(r.err, ErrMuxClosed) {
		t.Errorf("pending raft Accept: %v, %v; want ErrMuxClosed", r.conn, r.err)
	}
	select {
	case err := <-served:
		if !errors.Is(err, ErrMuxClosed) {
			t.Errorf("http Serve returned %v; want ErrMuxClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("http Serve did not return after Close")
	}
	for name, ln := range map[string]net.Listener{"raft": raftLayer{m.raft}, "http": m.HTTP()} {
		if r := waitAccept(t, acceptAsync(ln)); !errors.Is(r.err, ErrMuxClosed) {
			t.Errorf("%s Accept after Close: %v; want ErrMuxClosed", name, r.err)
		}
	}
	if c, err := net.DialTimeout("tcp", m.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Errorf("the port still accepts connections after Close")
	}
}

// TestMuxHalfClose: closing one half (http.Server.Close closes its
// listener) leaves the other half and the port working; connections for
// the closed half are dropped.
func TestMuxHalfClose(t *testing.T) {
	m := listenMux(t)
	if err := m.HTTP().Close(); err != nil {
		t.Fatal(err)
	}
	if r := waitAccept(t, acceptAsync(m.HTTP())); !errors.Is(r.err, ErrMuxClosed) {
		t.Fatalf("http Accept after its Close: %v", r.err)
	}
	// An HTTP connection is closed by the mux.
	c := dial(t, m.Addr().String())
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes from a connection to a closed half", n)
	}
	// Raft still works.
	accepted := acceptAsync(raftLayer{m.raft})
	rc := dial(t, m.Addr().String())
	rc.Write([]byte{0x01, 'k'})
	r := waitAccept(t, accepted)
	if r.err != nil {
		t.Fatal(r.err)
	}
	r.conn.SetDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 1)
	if _, err := io.ReadFull(r.conn, b); err != nil || b[0] != 'k' {
		t.Fatalf("raft read %q, %v", b, err)
	}
}

// TestListenAddresses: the advertised address of the server port.
func TestListenAddresses(t *testing.T) {
	cases := []struct {
		name      string
		bind      string
		advertise string
		wantIP    string
		wantPort  int // 0: the bound port
		wantErr   string
	}{
		{name: "bound address", bind: "127.0.0.1:0", wantIP: "127.0.0.1"},
		{name: "advertise ip, bound port", bind: "127.0.0.1:0", advertise: "10.1.2.3:0", wantIP: "10.1.2.3"},
		{name: "advertise ip only port", bind: "127.0.0.1:0", advertise: "10.1.2.3:8300", wantIP: "10.1.2.3", wantPort: 8300},
		{name: "unspecified bind", bind: "0.0.0.0:0", wantErr: "not an address other servers can dial"},
		{name: "unspecified advertise", bind: "127.0.0.1:0", advertise: "0.0.0.0:0", wantErr: "not an address other servers can dial"},
		{name: "bad advertise", bind: "127.0.0.1:0", advertise: "no-port", wantErr: "advertise address"},
		{name: "bad bind", bind: "127.0.0.1:99999", wantErr: "server port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Listen(tc.bind, tc.advertise)
			if tc.wantErr != "" {
				if err == nil {
					m.Close()
					t.Fatalf("Listen succeeded; want an error containing %q", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q; want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			adv := m.Addr().(*net.TCPAddr)
			bound := m.ln.Addr().(*net.TCPAddr)
			wantPort := tc.wantPort
			if wantPort == 0 {
				wantPort = bound.Port
			}
			if adv.IP.String() != tc.wantIP || adv.Port != wantPort {
				t.Fatalf("Addr %s; want %s:%d", adv, tc.wantIP, wantPort)
			}
			if m.HTTP().Addr().String() != adv.String() {
				t.Errorf("HTTP().Addr %s; want %s", m.HTTP().Addr(), adv)
			}
		})
	}

	t.Run("port in use", func(t *testing.T) {
		m := listenMux(t)
		if m2, err := Listen(m.Addr().String(), ""); err == nil {
			m2.Close()
			t.Fatal("second Listen on the same port succeeded")
		}
	})
}

// TestMuxSurvivesFDExhaustion: running out of file descriptors for a
// moment (a burst of connections) must not close the server port for good.
// The check runs in a child process, whose descriptor limit it lowers.
func TestMuxSurvivesFDExhaustion(t *testing.T) {
	if os.Getenv("MUSTER_MUX_FD_CHILD") == "1" {
		muxFDChild(t)
		return
	}
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc/self/fd")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMuxSurvivesFDExhaustion$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "MUSTER_MUX_FD_CHILD=1")
	out, err := cmd.CombinedOutput()
	s := string(out)
	switch {
	case strings.Contains(s, "MUX-CLOSED"):
		t.Fatalf("the server port closed for good on a passing descriptor shortage:\n%s", s)
	case strings.Contains(s, "MUX-SKIP"):
		t.Skipf("could not set up the descriptor shortage:\n%s", s)
	case err != nil || !strings.Contains(s, "MUX-SURVIVED"):
		t.Fatalf("child: %v\n%s", err, s)
	}
}

// muxFDChild lowers the descriptor limit so that the mux's Accept fails
// with EMFILE, then raises it and checks that the port still works.
func muxFDChild(t *testing.T) {
	m, err := Listen("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		fmt.Println("MUX-SKIP getrlimit", err)
		return
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		fmt.Println("MUX-SKIP", err)
		return
	}
	lim := old
	lim.Cur = uint64(len(ents) + 8)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Println("MUX-SKIP setrlimit", err)
		return
	}
	// Open client connections until the process is out of descriptors;
	// then free one and connect with it, so the connection is queued on the
	// port while the accepting side has no descriptor left.
	var conns []net.Conn
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
		conns = nil
	}
	closed := make(chan struct{})
	go func() {
		// The flood below sends nothing, so nothing reaches the HTTP half:
		// this Accept returns only when the mux closes.
		if _, err := m.HTTP().Accept(); errors.Is(err, ErrMuxClosed) {
			close(closed)
		}
	}()
	for {
		c, err := net.DialTimeout("tcp", m.Addr().String(), time.Second)
		if err == nil {
			conns = append(conns, c)
			if len(conns) > 10000 {
				closeAll()
				syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
				fmt.Println("MUX-SKIP: never ran out of descriptors")
				return
			}
			continue
		}
		// EMFILE here, or ECONNREFUSED when the accepting side ran out
		// first and the mux gave up.
		fmt.Println("flood stopped after", len(conns), "connections:", err)
		break
	}
	// Out of descriptors: free one and take it for a connection, which
	// waits on the port while its Accept fails with EMFILE.
	if len(conns) > 0 {
		conns[len(conns)-1].Close()
		conns = conns[:len(conns)-1]
	}
	if c, err := net.DialTimeout("tcp", m.Addr().String(), time.Second); err == nil {
		conns = append(conns, c)
	}
	select {
	case <-closed: // the bug: the mux gave up
	case <-time.After(time.Second): // a fixed mux keeps retrying
	}
	closeAll()
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	// With descriptors back, the port must take a Raft connection.
	accepted := acceptAsync(raftLayer{m.raft})
	c, err := net.DialTimeout("tcp", m.Addr().String(), time.Second)
	if err == nil {
		defer c.Close()
		c.Write([]byte{0x01, 'z'})
	}
	select {
	case r := <-accepted:
		if r.err == nil {
			r.conn.Close()
			fmt.Println("MUX-SURVIVED")
			return
		}
		fmt.Println("MUX-CLOSED", r.err)
	case <-time.After(3 * time.Second):
		fmt.Println("MUX-TIMEOUT: dial err", err)
		t.Fatal("no Accept after descriptors came back")
	}
}
