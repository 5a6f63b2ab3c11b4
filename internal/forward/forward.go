// Package forward lets any agent answer any API call: a client agent sends
// what it cannot answer to a server, and a follower sends writes and
// non-stale reads to the leader.
//
// The transport is the API itself: the request is replayed on the target's
// server port (which it shares with Raft) as HTTP/2 without TLS (h2c), so
// all calls to one server share one connection, however many blocking
// queries are parked on it. The target runs the very handler a direct call
// would, so blocking queries, fair-lock waits, status codes and headers
// need nothing special, and a forwarded call answers exactly as a direct
// one. HTTP/2 also makes a server's stop unambiguous: its GOAWAY names the
// last call it took, and the calls after it are retried elsewhere, where
// HTTP/1.1 keep-alive would leave a write sent on a closing connection in
// doubt.
//
// While the cluster has no leader (an election, a lost quorum), calls are
// held and retried for up to HoldTimeout, as Consul's rpc_hold_timeout:
// a failover shows up as a slower answer, not an error. A call is retried
// only when it cannot have reached its target (the connection was refused
// or could not be opened); once sent, its answer or its failure is final.
package forward

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Headers a forwarded call carries.
const (
	// HeaderHops counts how many agents passed the call on; past maxHops it
	// is answered with an error rather than forwarded again (a loop while
	// leadership moves).
	HeaderHops = "X-Muster-Forward-Hops"
	// HeaderOriginNode names the agent the call first reached: a session
	// created through a client agent belongs to that agent's node, as in
	// Consul.
	HeaderOriginNode = "X-Muster-Origin-Node"
)

const maxHops = 3

// DefaultHoldTimeout is how long a call waits for a leader (Consul's
// rpc_hold_timeout).
const DefaultHoldTimeout = 7 * time.Second

// maxBuffered is the largest body kept for a retry; larger bodies (a
// snapshot restore) are sent once.
const maxBuffered = 8 << 20

// ErrLeaderNow means this server became the leader while the call waited:
// the caller serves it here. The request body can be read again.
var ErrLeaderNow = errors.New("forward: this server is now the leader")

// ErrNoLeader means no leader (or, on a client agent, no server) could be
// reached within the hold timeout. Over the wire it is Consul's 500
// "No cluster leader".
var ErrNoLeader = errors.New("No cluster leader")

// Config wires a Handler.
type Config struct {
	// Local answers the calls this agent serves itself.
	Local http.Handler
	// Server is set on servers; client agents forward everything but their
	// own endpoints.
	Server bool
	// IsLeader and Leader (the leader's server port, "" when unknown) are
	// the server's Raft view; LastContact is how long since it heard from
	// the leader (for max_stale).
	IsLeader    func() bool
	Leader      func() string
	LastContact func() time.Duration
	// Servers lists the server ports of the live servers (client agents).
	Servers func() []string
	// NodeName is this agent's node, sent as HeaderOriginNode.
	NodeName    string
	HoldTimeout time.Duration // default DefaultHoldTimeout
	Logger      *slog.Logger
}

// Handler routes API calls: served here or forwarded. Safe for concurrent
// use.
type Handler struct {
	cfg    Config
	client *http.Client

	mu        sync.Mutex
	preferred string // client agents: the server that answered last
}

// New returns a Handler.
func New(cfg Config) *Handler {
	if cfg.HoldTimeout == 0 {
		cfg.HoldTimeout = DefaultHoldTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tr := &http.Transport{
		// A LAN connection opens in well under a millisecond; a server
		// whose host vanished (no RST) must not hold a call for long
		// before the next server is tried.
		DialContext:         (&net.Dialer{Timeout: 500 * time.Millisecond, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		// Bodies pass through as the target encoded them (gzip or not).
		DisableCompression: true,
		Protocols:          ServerProtocols(false),
		HTTP2: &http.HTTP2Config{
			// A dead server's connection is noticed within seconds even
			// when no call is running on it.
			PingTimeout:     2 * time.Second,
			SendPingTimeout: 5 * time.Second,
		},
	}
	return &Handler{cfg: cfg, client: &http.Client{Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// ServerProtocols are the protocols of the server port's HTTP half: h2c
// for forwarded calls, plus HTTP/1.1 on the listening side (withHTTP1) for
// tools such as curl.
func ServerProtocols(withHTTP1 bool) *http.Protocols {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	p.SetHTTP1(withHTTP1)
	return p
}

// ServerHTTP2 is the server port's HTTP/2 configuration: room for many
// parked blocking queries per connection.
func ServerHTTP2() *http.HTTP2Config {
	return &http.HTTP2Config{MaxConcurrentStreams: 4096}
}

// SetLocal sets the handler of the calls served here, when it could not be
// given to New; call it before serving.
func (h *Handler) SetLocal(local http.Handler) { h.cfg.Local = local }

// Close drops the pooled connections.
func (h *Handler) Close() { h.client.CloseIdleConnections() }

// agentLocal reports whether path is answered by the agent it reaches,
// whatever its role: its own services, checks and membership, its metrics
// and logs, and the UI.
func agentLocal(path string) bool {
	return strings.HasPrefix(path, "/v1/agent/") || path == "/" || strings.HasPrefix(path, "/ui") ||
		strings.HasPrefix(path, "/debug/")
}

// ServeHTTP answers r here or forwards it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.local(r) {
		h.cfg.Local.ServeHTTP(w, r)
		return
	}
	resp, err := h.Forward(r)
	if errors.Is(err, ErrLeaderNow) {
		h.cfg.Local.ServeHTTP(w, r)
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	defer resp.Body.Close()
	copyResponse(w, resp)
}

// local decides whether this agent answers r itself.
func (h *Handler) local(r *http.Request) bool {
	if agentLocal(r.URL.Path) {
		return true
	}
	if !h.cfg.Server {
		return false
	}
	if strings.HasPrefix(r.URL.Path, "/v1/status/") || h.cfg.IsLeader() {
		return true // every server knows the leader and its peers
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	q := r.URL.Query()
	if _, stale := q["stale"]; !stale {
		return false
	}
	// A stale read is served here unless this server lost touch with the
	// leader for longer than max_stale allows.
	if ms := q.Get("max_stale"); ms != "" && h.cfg.LastContact != nil {
		if d, err := time.ParseDuration(ms); err == nil && h.cfg.LastContact() > d {
			return false
		}
	}
	return true
}

// Forward sends r to the leader (on a server) or to a server (on a client
// agent), holding it while there is none, and returns the answer. The
// caller closes the body. Errors are ErrNoLeader (wrapped), ErrLeaderNow
// (the body is restored for a local answer), or a failure after the call
// was sent.
func (h *Handler) Forward(r *http.Request) (*http.Response, error) {
	hops := 0
	if v := r.Header.Get(HeaderHops); v != "" {
		fmt.Sscanf(v, "%d", &hops)
	}
	if hops >= maxHops {
		return nil, fmt.Errorf("%w: forwarded %d times", ErrNoLeader, hops)
	}
	var body []byte
	buffered := r.Body == nil || r.Body == http.NoBody || (r.ContentLength >= 0 && r.ContentLength <= maxBuffered)
	if buffered && r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBuffered+1))
		if err != nil {
			return nil, fmt.Errorf("forward: read request: %w", err)
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	ctx := r.Context()
	deadline := time.Now().Add(h.cfg.HoldTimeout)
	var last error
	for attempt := 0; ; attempt++ {
		if h.cfg.Server && h.cfg.IsLeader() {
			if buffered {
				r.Body = io.NopCloser(bytes.NewReader(body))
				return nil, ErrLeaderNow
			}
			return nil, ErrNoLeader // cannot replay the body here
		}
		target := h.target(attempt)
		if target != "" {
			out, err := h.newRequest(ctx, r, target, hops+1, buffered, body)
			if err != nil {
				return nil, err
			}
			resp, err := h.client.Do(out)
			if err == nil {
				h.answered(target)
				return resp, nil
			}
			if !buffered || !notSent(err) || ctx.Err() != nil {
				return nil, fmt.Errorf("forward: %s: %w", target, err)
			}
			last = err
			h.failed(target)
		}
		if time.Now().After(deadline) {
			if last != nil {
				return nil, fmt.Errorf("%w: %v", ErrNoLeader, last)
			}
			return nil, ErrNoLeader
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff(attempt)):
		}
	}
}

// backoff paces retries: quick at first, since an election takes a few
// hundred milliseconds.
func backoff(attempt int) time.Duration {
	return min(10*time.Millisecond<<min(attempt, 5), 250*time.Millisecond)
}

// target picks where the next attempt goes, "" when nowhere yet.
func (h *Handler) target(attempt int) string {
	if h.cfg.Server {
		return h.cfg.Leader()
	}
	servers := h.cfg.Servers()
	if len(servers) == 0 {
		return ""
	}
	h.mu.Lock()
	pref := h.preferred
	h.mu.Unlock()
	// Start at the server that answered last; later attempts walk on from
	// it, so a dead one is not tried twice in a row.
	start := 0
	for i, s := range servers {
		if s == pref {
			start = i
			break
		}
	}
	return servers[(start+attempt)%len(servers)]
}

func (h *Handler) answered(target string) {
	if h.cfg.Server {
		return
	}
	h.mu.Lock()
	h.preferred = target
	h.mu.Unlock()
}

// failed notes an unreachable target. The preferred server stays as it is:
// the attempts of this call walk on from it, and the next server that
// answers becomes preferred.
func (h *Handler) failed(target string) {
	h.cfg.Logger.Debug("forward: target unreachable", "target", target)
}

func (h *Handler) newRequest(ctx context.Context, r *http.Request, target string, hops int, buffered bool, body []byte) (*http.Request, error) {
	u := *r.URL
	u.Scheme, u.Host = "http", target
	var rd io.Reader = r.Body
	if buffered {
		rd = bytes.NewReader(body)
	}
	out, err := http.NewRequestWithContext(ctx, r.Method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	out.Header = r.Header.Clone()
	removeHopHeaders(out.Header)
	out.Header.Set(HeaderHops, fmt.Sprint(hops))
	if out.Header.Get(HeaderOriginNode) == "" {
		out.Header.Set(HeaderOriginNode, h.cfg.NodeName)
	}
	if buffered {
		out.ContentLength = int64(len(body))
	} else {
		out.ContentLength = r.ContentLength
	}
	return out, nil
}

// hopHeaders concern one connection, not the call (RFC 9110 7.6.1); Go's
// HTTP/2 client refuses a request that carries Upgrade (curl --http2 sends
// "Upgrade: h2c" to the public port).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// removeHopHeaders drops the hop-by-hop headers and those that Connection
// names.
func removeHopHeaders(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// notSent reports whether err means the request never reached the target:
// the connection could not be opened.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// copyResponse streams resp to w, flushing as data arrives (a monitor
// stream or a long blocking answer must not sit in a buffer).
func copyResponse(w http.ResponseWriter, resp *http.Response) {
	for k, v := range resp.Header {
		if k == "Connection" || k == "Keep-Alive" || k == "Transfer-Encoding" {
			continue
		}
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	fl, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}

// writeError answers a call that could not be forwarded, in Consul's way:
// 500 with a text body.
func writeError(w http.ResponseWriter, err error) {
	code := "forward_failed"
	if errors.Is(err, ErrNoLeader) {
		code = "no_leader"
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Muster-Error-Code", code)
	w.WriteHeader(http.StatusInternalServerError)
	if errors.Is(err, ErrNoLeader) {
		io.WriteString(w, "No cluster leader")
		return
	}
	io.WriteString(w, "rpc error: "+err.Error())
}
