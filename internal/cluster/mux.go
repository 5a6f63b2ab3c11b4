package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// connRaft is the first byte of a connection to the server port that
// carries Raft. Any other first byte starts an HTTP request (a method's
// first letter) for the forwarding server, so one port serves both, the way
// Consul's server port multiplexes its RPC types.
const connRaft byte = 0x01

// ErrMuxClosed is returned by Accept once the server port is closed.
var ErrMuxClosed = errors.New("cluster: server port closed")

// Mux is a server's listening port, split between Raft and the HTTP server
// that answers forwarded API calls. Create it with Listen; close it with
// Close (Cluster.Shutdown does).
type Mux struct {
	ln   net.Listener
	adv  net.Addr
	raft *chanListener
	http *chanListener
	once sync.Once
}

// Listen opens the server port on bind (host:port; port 0 picks one) and
// starts routing connections. advertise is the address other servers dial
// ("" means the bound address); with port 0 in advertise the bound port is
// used.
func Listen(bind, advertise string) (*Mux, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("cluster: server port: %w", err)
	}
	bound := ln.Addr().(*net.TCPAddr)
	adv := &net.TCPAddr{IP: bound.IP, Port: bound.Port}
	if advertise != "" {
		a, err := net.ResolveTCPAddr("tcp", advertise)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("cluster: advertise address %q: %w", advertise, err)
		}
		adv.IP = a.IP
		if a.Port != 0 {
			adv.Port = a.Port
		}
	}
	if adv.IP.IsUnspecified() {
		ln.Close()
		return nil, fmt.Errorf("cluster: advertise address: %s is not an address other servers can dial", adv.IP)
	}
	m := &Mux{ln: ln, adv: adv, raft: newChanListener(adv), http: newChanListener(adv)}
	go m.serve()
	return m, nil
}

// Addr is the advertised address of the server port.
func (m *Mux) Addr() net.Addr { return m.adv }

// HTTP is the listener of forwarded API calls (h2c, and HTTP/1.1 for tools).
func (m *Mux) HTTP() net.Listener { return m.http }

// Close stops accepting on the server port; both halves' Accept return
// ErrMuxClosed.
func (m *Mux) Close() error {
	var err error
	m.once.Do(func() {
		err = m.ln.Close()
		m.raft.close()
		m.http.close()
	})
	return err
}

// serve accepts until the listener is closed. Other accept errors (out of
// file descriptors) are waited out with backoff, as http.Server does: a
// passing shortage must not close the server port for good.
func (m *Mux) serve() {
	var delay time.Duration
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				m.Close()
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			time.Sleep(delay)
			continue
		}
		delay = 0
		go m.route(conn)
	}
}

// route reads the first byte of conn and hands it to Raft or to HTTP. A
// peer that sends nothing for ten seconds is dropped.
func (m *Mux) route(conn net.Conn) {
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	first, err := br.Peek(1)
	if err != nil {
		conn.Close()
		return
	}
	conn.SetReadDeadline(time.Time{})
	if first[0] == connRaft {
		br.Discard(1)
		m.raft.push(&bufferedConn{Conn: conn, r: br})
		return
	}
	m.http.push(&bufferedConn{Conn: conn, r: br})
}

// bufferedConn is a conn whose first bytes were read into r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// chanListener is a net.Listener fed by the mux.
type chanListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) push(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, ErrMuxClosed
	}
}

func (l *chanListener) close() { l.once.Do(func() { close(l.done) }) }

// Close stops this half from accepting; connections routed to it later are
// closed. The port itself stays open until Mux.Close.
func (l *chanListener) Close() error { l.close(); return nil }

func (l *chanListener) Addr() net.Addr { return l.addr }

// raftLayer is Raft's StreamLayer on the mux.
type raftLayer struct{ *chanListener }

// Dial opens a Raft connection to another server's port.
func (l raftLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", string(address), timeout)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write([]byte{connRaft}); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}
