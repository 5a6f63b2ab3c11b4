package forward

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ---- helpers ---------------------------------------------------------------

// seen is what a target server recorded about one call.
type seen struct {
	Method, Path, RawQuery, Proto string
	Header                        http.Header
	Body                          []byte
}

// recorder is a target (a leader or a server) that records the calls it gets
// and answers with a fixed status, headers and body.
type recorder struct {
	mu    sync.Mutex
	calls []seen

	status int
	header http.Header
	body   string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.calls = append(rc.calls, seen{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Proto: r.Proto, Header: r.Header.Clone(), Body: b})
	rc.mu.Unlock()
	for k, v := range rc.header {
		w.Header()[k] = v
	}
	w.Header().Set("X-Served-By", "remote")
	status := rc.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	body := rc.body
	if body == "" {
		body = "remote"
	}
	io.WriteString(w, body)
}

func (rc *recorder) Calls() []seen {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]seen(nil), rc.calls...)
}

// localHandler stands for the agent's own API: it answers "local" and
// echoes the request body so that a body restored for a local answer can
// be checked.
type localHandler struct{ hits atomic.Int64 }

func (l *localHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.hits.Add(1)
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Served-By", "local")
	io.WriteString(w, "local")
	w.Write(b)
}

// serve starts an HTTP server on 127.0.0.1:0 that speaks HTTP/1.1 and h2c
// (as the server port does) and returns its address.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, Protocols: ServerProtocols(true), HTTP2: ServerHTTP2(),
		ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

// closedAddr returns an address on which connections are refused.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newHandler builds a Handler with cleanup, filling nil funcs with safe
// defaults.
func newHandler(t *testing.T, cfg Config) *Handler {
	t.Helper()
	if cfg.IsLeader == nil {
		cfg.IsLeader = func() bool { return false }
	}
	if cfg.Leader == nil {
		cfg.Leader = func() string { return "" }
	}
	if cfg.Servers == nil {
		cfg.Servers = func() []string { return nil }
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	if cfg.NodeName == "" {
		cfg.NodeName = "node-a"
	}
	h := New(cfg)
	t.Cleanup(h.Close)
	return h
}

// testClient is a plain HTTP/1.1 client for calling the front agent, with
// its own pool so that tests do not share connections.
func testClient(t *testing.T) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, c *http.Client, req *http.Request) answer {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func mustRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// ---- routing ---------------------------------------------------------------

// TestRouting checks which calls an agent answers itself and which it
// forwards, for every role.
func TestRouting(t *testing.T) {
	type role int
	const (
		client role = iota
		follower
		leader
	)
	cases := []struct {
		name        string
		role        role
		method      string
		path        string
		lastContact time.Duration
		noContact   bool // LastContact left nil
		wantLocal   bool
	}{
		// Agent endpoints and the UI are answered by whichever agent is reached.
		{name: "client agent self", role: client, method: "GET", path: "/v1/agent/self", wantLocal: true},
		{name: "client agent service register", role: client, method: "PUT", path: "/v1/agent/service/register", wantLocal: true},
		{name: "client root", role: client, method: "GET", path: "/", wantLocal: true},
		{name: "client ui", role: client, method: "GET", path: "/ui", wantLocal: true},
		{name: "client ui subpath", role: client, method: "GET", path: "/ui/dc1/services", wantLocal: true},
		{name: "client debug", role: client, method: "GET", path: "/debug/pprof/", wantLocal: true},
		{name: "follower agent members", role: follower, method: "GET", path: "/v1/agent/members", wantLocal: true},
		{name: "follower agent check pass", role: follower, method: "PUT", path: "/v1/agent/check/pass/x", wantLocal: true},
		{name: "follower root", role: follower, method: "GET", path: "/", wantLocal: true},
		{name: "follower ui", role: follower, method: "GET", path: "/ui/", wantLocal: true},

		// A client agent keeps no state: everything else is forwarded.
		{name: "client kv read", role: client, method: "GET", path: "/v1/kv/foo"},
		{name: "client kv write", role: client, method: "PUT", path: "/v1/kv/foo"},
		{name: "client stale read", role: client, method: "GET", path: "/v1/kv/foo?stale"},
		{name: "client status", role: client, method: "GET", path: "/v1/status/leader"},

		// The leader answers everything.
		{name: "leader kv write", role: leader, method: "PUT", path: "/v1/kv/foo", wantLocal: true},
		{name: "leader kv read", role: leader, method: "GET", path: "/v1/kv/foo", wantLocal: true},
		{name: "leader catalog", role: leader, method: "GET", path: "/v1/catalog/nodes?consistent", wantLocal: true},
		{name: "leader session create", role: leader, method: "PUT", path: "/v1/session/create", wantLocal: true},

		// A follower answers /v1/status/ and stale reads, forwards the rest.
		{name: "follower status leader", role: follower, method: "GET", path: "/v1/status/leader", wantLocal: true},
		{name: "follower status peers", role: follower, method: "GET", path: "/v1/status/peers", wantLocal: true},
		{name: "follower kv write", role: follower, method: "PUT", path: "/v1/kv/foo"},
		{name: "follower kv delete", role: follower, method: "DELETE", path: "/v1/kv/foo"},
		{name: "follower default read", role: follower, method: "GET", path: "/v1/kv/foo"},
		{name: "follower consistent read", role: follower, method: "GET", path: "/v1/kv/foo?consistent"},
		{name: "follower stale read", role: follower, method: "GET", path: "/v1/kv/foo?stale", lastContact: time.Hour, wantLocal: true},
		{name: "follower stale=false is still stale", role: follower, method: "GET", path: "/v1/kv/foo?stale=false", wantLocal: true},
		{name: "follower stale head", role: follower, method: "HEAD", path: "/v1/kv/foo?stale", wantLocal: true},
		{name: "follower stale write forwarded", role: follower, method: "PUT", path: "/v1/kv/foo?stale"},
		{name: "follower stale within max_stale", role: follower, method: "GET", path: "/v1/kv/foo?stale&max_stale=10s", lastContact: time.Second, wantLocal: true},
		{name: "follower stale at max_stale", role: follower, method: "GET", path: "/v1/kv/foo?stale&max_stale=1s", lastContact: time.Second, wantLocal: true},
		{name: "follower stale past max_stale", role: follower, method: "GET", path: "/v1/kv/foo?stale&max_stale=1s", lastContact: 5 * time.Second},
		{name: "follower stale past max_stale ms", role: follower, method: "GET", path: "/v1/catalog/services?stale&max_stale=500ms", lastContact: time.Second},
		{name: "follower bad max_stale ignored", role: follower, method: "GET", path: "/v1/kv/foo?stale&max_stale=soon", lastContact: time.Hour, wantLocal: true},
		{name: "follower max_stale without LastContact", role: follower, method: "GET", path: "/v1/kv/foo?stale&max_stale=1s", noContact: true, wantLocal: true},
		{name: "follower max_stale without stale", role: follower, method: "GET", path: "/v1/kv/foo?max_stale=1h"},
	}
	remote := &recorder{}
	remoteAddr := serve(t, remote)
	c := testClient(t)

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			local := &localHandler{}
			cfg := Config{Local: local, NodeName: "front", HoldTimeout: 2 * time.Second}
			switch tc.role {
			case client:
				cfg.Servers = func() []string { return []string{remoteAddr} }
				cfg.IsLeader = func() bool { panic("IsLeader called on a client agent") }
				cfg.Leader = func() string { panic("Leader called on a client agent") }
			case follower, leader:
				cfg.Server = true
				isLeader := tc.role == leader
				cfg.IsLeader = func() bool { return isLeader }
				cfg.Leader = func() string { return remoteAddr }
				if !tc.noContact {
					lc := tc.lastContact
					cfg.LastContact = func() time.Duration { return lc }
				}
			}
			front := serve(t, newHandler(t, cfg))
			before := len(remote.Calls())

			a := do(t, c, mustRequest(t, tc.method, "http://"+front+tc.path, nil))

			after := remote.Calls()
			gotLocal := a.header.Get("X-Served-By") == "local"
			if gotLocal != tc.wantLocal {
				t.Fatalf("served by %q (status %d, body %q); want local=%v",
					a.header.Get("X-Served-By"), a.status, a.body, tc.wantLocal)
			}
			if tc.wantLocal {
				if local.hits.Load() != 1 || len(after) != before {
					t.Fatalf("local hits %d, remote calls %d; want 1 local and no remote", local.hits.Load(), len(after)-before)
				}
				return
			}
			if len(after) != before+1 {
				t.Fatalf("remote got %d calls; want 1", len(after)-before)
			}
			got := after[len(after)-1]
			if got.Method != tc.method || got.Path+querySuffix(got.RawQuery) != tc.path {
				t.Errorf("remote got %s %s?%s; want %s %s", got.Method, got.Path, got.RawQuery, tc.method, tc.path)
			}
			if h := got.Header.Get(HeaderHops); h != "1" {
				t.Errorf("remote got %s=%q; want 1", HeaderHops, h)
			}
			if got.Proto != "HTTP/2.0" {
				t.Errorf("forwarded call came as %s; want HTTP/2.0 (h2c)", got.Proto)
			}
			if local.hits.Load() != 0 {
				t.Errorf("local handler ran for a forwarded call")
			}
		})
	}
}

func querySuffix(q string) string {
	if q == "" {
		return ""
	}
	return "?" + q
}

// ---- forwarding a write ----------------------------------------------------

// TestForwardPreservesRequestAndResponse: a follower replays a write on the
// leader unchanged (method, path, query, body, headers plus the forwarding
// headers), and passes the leader's answer back unchanged.
func TestForwardPreservesRequestAndResponse(t *testing.T) {
	cases := []struct {
		name       string
		method     string
		target     string // path and query
		body       string
		chunked    bool // send the body without a Content-Length
		inHops     string
		inOrigin   string
		wantHops   string
		wantOrigin string
		status     int
	}{
		{name: "put with body", method: "PUT", target: "/v1/kv/foo/bar?cas=0&flags=7&dc=dc1",
			body: "hello, world", wantHops: "1", wantOrigin: "follower-1", status: http.StatusOK},
		{name: "post txn conflict", method: "POST", target: "/v1/txn",
			body: `[{"KV":{"Verb":"set","Key":"a","Value":"Yg=="}}]`, wantHops: "1", wantOrigin: "follower-1", status: http.StatusConflict},
		{name: "delete recurse", method: "DELETE", target: "/v1/kv/foo?recurse",
			wantHops: "1", wantOrigin: "follower-1", status: http.StatusOK},
		{name: "escaped path", method: "PUT", target: "/v1/kv/a%2Fb%20c?flags=1",
			body: "x", wantHops: "1", wantOrigin: "follower-1", status: http.StatusOK},
		{name: "large body", method: "PUT", target: "/v1/kv/big",
			body: strings.Repeat("0123456789abcdef", 64<<10), wantHops: "1", wantOrigin: "follower-1", status: http.StatusOK},
		{name: "chunked body is sent once", method: "PUT", target: "/v1/kv/chunked",
			body: strings.Repeat("z", 100<<10), chunked: true, wantHops: "1", wantOrigin: "follower-1", status: http.StatusOK},
		{name: "already forwarded keeps origin", method: "PUT", target: "/v1/session/create",
			body: "{}", inHops: "1", inOrigin: "client-7", wantHops: "2", wantOrigin: "client-7", status: http.StatusOK},
		{name: "second hop", method: "PUT", target: "/v1/kv/x",
			body: "y", inHops: "2", wantHops: "3", wantOrigin: "follower-1", status: http.StatusOK},
	}

	c := testClient(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			leaderRec := &recorder{
				status: tc.status,
				header: http.Header{
					"X-Consul-Index":       {"42"},
					"X-Consul-Knownleader": {"true"},
					"Content-Type":         {"application/json"},
					"X-Multi":              {"a", "b"},
				},
				body: `{"answer":` + strconv.Quote(tc.name) + `}`,
			}
			leaderAddr := serve(t, leaderRec)
			local := &localHandler{}
			front := serve(t, newHandler(t, Config{Local: local, Server: true, NodeName: "follower-1",
				IsLeader: func() bool { return false }, Leader: func() string { return leaderAddr }}))

			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
				if tc.chunked {
					body = io.MultiReader(body) // hides the length: sent chunked
				}
			}
			req := mustRequest(t, tc.method, "http://"+front+tc.target, body)
			req.Header.Set("X-Consul-Token", "secret-token")
			req.Header.Set("Content-Type", "application/octet-stream")
			req.Header.Add("X-Repeated", "one")
			req.Header.Add("X-Repeated", "two")
			if tc.inHops != "" {
				req.Header.Set(HeaderHops, tc.inHops)
			}
			if tc.inOrigin != "" {
				req.Header.Set(HeaderOriginNode, tc.inOrigin)
			}

			a := do(t, c, req)

			calls := leaderRec.Calls()
			if len(calls) != 1 {
				t.Fatalf("leader got %d calls; want 1 (answer %d %q)", len(calls), a.status, a.body)
			}
			got := calls[0]
			if got.Method != tc.method {
				t.Errorf("method %q; want %q", got.Method, tc.method)
			}
			wantPath, wantQuery, _ := strings.Cut(tc.target, "?")
			// The leader sees the decoded path; compare decoded forms.
			wantPath = mustRequest(t, "GET", "http://x"+wantPath, nil).URL.Path
			if got.Path != wantPath || got.RawQuery != wantQuery {
				t.Errorf("leader got path %q query %q; want %q %q", got.Path, got.RawQuery, wantPath, wantQuery)
			}
			if string(got.Body) != tc.body {
				t.Errorf("leader got a body of %d bytes; want %d", len(got.Body), len(tc.body))
			}
			for k, want := range map[string]string{
				"X-Consul-Token": "secret-token", "Content-Type": "application/octet-stream",
				HeaderHops: tc.wantHops, HeaderOriginNode: tc.wantOrigin,
			} {
				if v := got.Header.Get(k); v != want {
					t.Errorf("leader got %s=%q; want %q", k, v, want)
				}
			}
			if v := got.Header.Values("X-Repeated"); strings.Join(v, ",") != "one,two" {
				t.Errorf("leader got X-Repeated=%q; want [one two]", v)
			}
			if got.Proto != "HTTP/2.0" {
				t.Errorf("leader got %s; want HTTP/2.0", got.Proto)
			}

			// The answer comes back unchanged.
			if a.status != tc.status {
				t.Errorf("status %d; want %d", a.status, tc.status)
			}
			if a.body != leaderRec.body {
				t.Errorf("body %q; want %q", a.body, leaderRec.body)
			}
			for k, want := range leaderRec.header {
				if v := a.header.Values(k); strings.Join(v, "|") != strings.Join(want, "|") {
					t.Errorf("answer header %s=%q; want %q", k, v, want)
				}
			}
			if a.header.Get("X-Served-By") != "remote" {
				t.Errorf("answer X-Served-By=%q; want remote", a.header.Get("X-Served-By"))
			}
			if local.hits.Load() != 0 {
				t.Errorf("local handler ran")
			}
		})
	}
}

// TestForwardHopByHopHeaders: HTTP/1.1 connection-level request headers
// must not break the h2c replay. A caller that offers an h2c upgrade
// (curl --http2 on an http:// URL sends "Connection: Upgrade,
// HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: ...") must get the
// same answer through a follower or a client agent as from the leader.
func TestForwardHopByHopHeaders(t *testing.T) {
	leaderRec := &recorder{}
	leaderAddr := serve(t, leaderRec)
	c := testClient(t)
	cases := []struct {
		name   string
		header map[string]string
	}{
		{name: "connection keep-alive", header: map[string]string{"Connection": "keep-alive", "Keep-Alive": "timeout=5"}},
		{name: "proxy-connection", header: map[string]string{"Proxy-Connection": "keep-alive"}},
		{name: "te trailers", header: map[string]string{"TE": "trailers"}},
		{name: "curl --http2 upgrade offer", header: map[string]string{
			"Connection": "Upgrade, HTTP2-Settings", "Upgrade": "h2c", "HTTP2-Settings": "AAMAAABkAARAAAAAAAIAAAAA"}},
		{name: "websocket upgrade header", header: map[string]string{"Connection": "Upgrade", "Upgrade": "websocket"}},
	}
	for _, server := range []bool{true, false} {
		front := serve(t, newHandler(t, Config{Local: &localHandler{}, Server: server,
			Leader:  func() string { return leaderAddr },
			Servers: func() []string { return []string{leaderAddr} }}))
		for _, tc := range cases {
			t.Run(fmt.Sprintf("server=%v/%s", server, tc.name), func(t *testing.T) {
				req := mustRequest(t, "GET", "http://"+front+"/v1/kv/foo", nil)
				for k, v := range tc.header {
					req.Header.Set(k, v)
				}
				a := do(t, c, req)
				if a.status != http.StatusOK || a.body != "remote" {
					t.Fatalf("answer %d %q; want 200 remote", a.status, a.body)
				}
			})
		}
	}
}

// ---- client agents ---------------------------------------------------------

// TestClientAgentFailover: a client agent forwards to one of its servers;
// a server that refuses connections is skipped, and the call succeeds on
// the next one.
func TestClientAgentFailover(t *testing.T) {
	live := &recorder{}
	liveAddr := serve(t, live)
	dead1, dead2 := closedAddr(t), closedAddr(t)

	cases := []struct {
		name    string
		servers []string
	}{
		{name: "only server", servers: []string{liveAddr}},
		{name: "first refused", servers: []string{dead1, liveAddr}},
		{name: "two refused", servers: []string{dead1, dead2, liveAddr}},
		{name: "live first", servers: []string{liveAddr, dead1}},
	}
	c := testClient(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var asked atomic.Int64
			front := serve(t, newHandler(t, Config{Local: &localHandler{}, NodeName: "client-1",
				HoldTimeout: 3 * time.Second,
				Servers:     func() []string { asked.Add(1); return tc.servers }}))
			before := len(live.Calls())
			start := time.Now()
			// A write with a body: a refused connection never sent it, so
			// it is safe to replay on the next server.
			a := do(t, c, mustRequest(t, "PUT", "http://"+front+"/v1/kv/k?flags=3", strings.NewReader("v1")))
			if a.status != http.StatusOK || a.body != "remote" {
				t.Fatalf("answer %d %q; want 200 remote", a.status, a.body)
			}
			calls := live.Calls()[before:]
			if len(calls) != 1 || string(calls[0].Body) != "v1" || calls[0].RawQuery != "flags=3" ||
				calls[0].Header.Get(HeaderOriginNode) != "client-1" || calls[0].Header.Get(HeaderHops) != "1" {
				t.Fatalf("live server got %+v; want one PUT with body v1, origin client-1, hops 1", calls)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("failover took %v", d)
			}
			// The next call goes straight to the server that answered.
			asked.Store(0)
			a = do(t, c, mustRequest(t, "GET", "http://"+front+"/v1/kv/k", nil))
			if a.status != http.StatusOK || a.body != "remote" {
				t.Fatalf("second answer %d %q", a.status, a.body)
			}
			if n := asked.Load(); n != 1 {
				t.Errorf("second call asked for the servers %d times; want 1 (preferred server)", n)
			}
		})
	}
}

// TestClientAgentNoServers: with every server refusing (or none known) the
// call is held for HoldTimeout and then fails as Consul's "No cluster
// leader"; a server that appears during the hold answers it.
func TestClientAgentNoServers(t *testing.T) {
	hold := 300 * time.Millisecond
	c := testClient(t)
	dead := closedAddr(t)
	for _, tc := range []struct {
		name    string
		servers []string
	}{
		{"none known", nil},
		{"all refused", []string{dead}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			front := serve(t, newHandler(t, Config{Local: &localHandler{}, HoldTimeout: hold,
				Servers: func() []string { return tc.servers }}))
			start := time.Now()
			a := do(t, c, mustRequest(t, "PUT", "http://"+front+"/v1/kv/k", strings.NewReader("v")))
			el := time.Since(start)
			if a.status != http.StatusInternalServerError || a.body != "No cluster leader" ||
				a.header.Get("X-Muster-Error-Code") != "no_leader" {
				t.Fatalf("answer %d %q (code %q); want 500 No cluster leader", a.status, a.body, a.header.Get("X-Muster-Error-Code"))
			}
			if el < hold || el > hold+2*time.Second {
				t.Errorf("failed after %v; want about %v", el, hold)
			}
		})
	}

	t.Run("server appears", func(t *testing.T) {
		live := &recorder{}
		liveAddr := serve(t, live)
		var asked atomic.Int64
		front := serve(t, newHandler(t, Config{Local: &localHandler{}, HoldTimeout: 5 * time.Second,
			Servers: func() []string {
				if asked.Add(1) < 4 {
					return nil
				}
				return []string{liveAddr}
			}}))
		a := do(t, c, mustRequest(t, "PUT", "http://"+front+"/v1/kv/k", strings.NewReader("held")))
		if a.status != http.StatusOK || a.body != "remote" {
			t.Fatalf("answer %d %q; want 200 remote", a.status, a.body)
		}
		if calls := live.Calls(); len(calls) != 1 || string(calls[0].Body) != "held" {
			t.Fatalf("server got %+v", calls)
		}
	})
}

// TestClientAgentNilLogger: Config documents no Logger requirement and New
// defaults HoldTimeout, but a refused server logs through cfg.Logger.
func TestClientAgentNilLogger(t *testing.T) {
	live := &recorder{}
	liveAddr := serve(t, live)
	dead := closedAddr(t)
	h := New(Config{Local: &localHandler{}, Servers: func() []string { return []string{dead, liveAddr} },
		HoldTimeout: 2 * time.Second})
	t.Cleanup(h.Close)
	req := mustRequest(t, "GET", "http://agent/v1/kv/k", nil)
	panicked := func() (p any) {
		defer func() { p = recover() }()
		resp, err := h.Forward(req)
		if err == nil {
			resp.Body.Close()
		}
		return nil
	}()
	if panicked != nil {
		t.Fatalf("a nil Config.Logger panics on the first refused target: %v", panicked)
	}
}

// ---- holding through elections --------------------------------------------

// TestFollowerHoldsWithoutLeader: a follower that knows no leader holds the
// call, fails it after HoldTimeout, and completes it when a leader appears
// (elsewhere or here) during the hold.
func TestFollowerHoldsWithoutLeader(t *testing.T) {
	hold := 300 * time.Millisecond
	c := testClient(t)

	t.Run("no leader", func(t *testing.T) {
		local := &localHandler{}
		front := serve(t, newHandler(t, Config{Local: local, Server: true, HoldTimeout: hold}))
		for _, m := range []string{"GET", "PUT"} {
			start := time.Now()
			a := do(t, c, mustRequest(t, m, "http://"+front+"/v1/kv/k", strings.NewReader("")))
			el := time.Since(start)
			if a.status != http.StatusInternalServerError || a.body != "No cluster leader" ||
				a.header.Get("X-Muster-Error-Code") != "no_leader" ||
				!strings.HasPrefix(a.header.Get("Content-Type"), "text/plain") {
				t.Fatalf("%s: answer %d %q %v; want 500 No cluster leader", m, a.status, a.body, a.header)
			}
			if el < hold || el > hold+2*time.Second {
				t.Errorf("%s: failed after %v; want about %v", m, el, hold)
			}
		}
		if local.hits.Load() != 0 {
			t.Errorf("local handler ran")
		}
	})

	t.Run("leader refusing", func(t *testing.T) {
		dead := closedAddr(t)
		front := serve(t, newHandler(t, Config{Local: &localHandler{}, Server: true, HoldTimeout: hold,
			Leader: func() string { return dead }}))
		a := do(t, c, mustRequest(t, "PUT", "http://"+front+"/v1/kv/k", strings.NewReader("v")))
		if a.status != http.StatusInternalServerError || a.body != "No cluster leader" {
			t.Fatalf("answer %d %q; want 500 No cluster leader", a.status, a.body)
		}
	})

	t.Run("leader elected elsewhere", func(t *testing.T) {
		leaderRec := &recorder{status: http.StatusOK, body: "true"}
		leaderAddr := serve(t, leaderRec)
		var asked atomic.Int64
		front := serve(t, newHandler(t, Config{Local: &localHandler{}, Server: true, HoldTimeout: 5 * time.Second,
			Leader: func() string {
				if asked.Add(1) < 5 { // no leader for the first few attempts
					return ""
				}
				return leaderAddr
			}}))
		a := do(t, c, mustRequest(t, "PUT", "http://"+front+"/v1/kv/k", strings.NewReader("held write")))
		if a.status != http.StatusOK || a.body != "true" {
			t.Fatalf("answer %d %q; want 200 true", a.status, a.body)
		}
		if calls := leaderRec.Calls(); len(calls) != 1 || string(calls[0].Body) != "held write" {
			t.Fatalf("leader got %+v", calls)
		}
		if asked.Load() < 5 {
			t.Errorf("Leader asked %d times; the call was not held", asked.Load())
		}
	})

	t.Run("leader was down then up", func(t *testing.T) {
		// The known leader refuses at first (restarting); then it listens.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		leaderRec := &recorder{}
		var once sync.Once
		var asked atomic.Int64
		front := serve(t, newHandler(t, Config{Local: &localHandler{}, Server: true, HoldTimeout: 5 * time.Second,
			Leader: func() string {
				if asked.Add(1) >= 3 {
					once.Do(func() {
						ln2, err := net.Listen("tcp", addr)
						if err != nil {
							t.Errorf("relisten on %s: %v", addr, err)
							return
						}
						srv := &http.Server{Handler: leaderRec, Protocols: ServerProtocols(true)}
						done := make(chan struct{})
						go func() { defer close(done); srv.Serve(ln2) }()
						t.Cleanup(func() { srv.Close(); <-done })
					})
				}
				return addr
			}}))
		a := do(t, c, mustRequest(t, "PUT", "http://"+front+"/v1/kv/k", strings.NewReader("retried")))
		if a.status != http.StatusOK {
			t.Fatalf("answer %d %q", a.status, a.body)
		}
		if calls := leaderRec.Calls(); len(calls) != 1 || string(calls[0].Body) != "retried" {
			t.Fatalf("leader got %+v; want exactly one call with the body", calls)
		}
	})

	t.Run("elected here", func(t *testing.T) {
		// This server wins the election while the call waits: it answers
		// the call itself, with the request body intact.
		local := &localHandler{}
		var n atomic.Int64
		front := serve(t, newHandler(t, Config{Local: local, Server: true, HoldTimeout: 5 * time.Second,
			IsLeader: func() bool { return n.Add(1) > 3 }}))
		a := do(t, c, mustRequest(t, "PUT", "http://"+front+"/v1/kv/k", strings.NewReader("mine")))
		if a.status != http.StatusOK || a.body != "localmine" || a.header.Get("X-Served-By") != "local" {
			t.Fatalf("answer %d %q; want 200 localmine", a.status, a.body)
		}
		if local.hits.Load() != 1 {
			t.Errorf("local hits %d", local.hits.Load())
		}
	})

	t.Run("caller gives up", func(t *testing.T) {
		h := newHandler(t, Config{Local: &localHandler{}, Server: true, HoldTimeout: 10 * time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		req := mustRequest(t, "GET", "http://agent/v1/kv/k", nil).WithContext(ctx)
		errc := make(chan error, 1)
		go func() {
			resp, err := h.Forward(req)
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		cancel()
		select {
		case err := <-errc:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Forward: %v; want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Forward kept holding a cancelled call")
		}
	})
}

// ---- hop limit -------------------------------------------------------------

// TestHopLimit: a call already passed on maxHops times is refused, not
// forwarded again (a loop while leadership moves).
func TestHopLimit(t *testing.T) {
	leaderRec := &recorder{}
	leaderAddr := serve(t, leaderRec)
	c := testClient(t)
	cases := []struct {
		name        string
		hops        string
		server      bool
		wantForward bool
		wantHops    string
	}{
		{name: "none", hops: "", server: true, wantForward: true, wantHops: "1"},
		{name: "below max", hops: strconv.Itoa(maxHops - 1), server: true, wantForward: true, wantHops: strconv.Itoa(maxHops)},
		{name: "at max follower", hops: strconv.Itoa(maxHops), server: true},
		{name: "above max follower", hops: strconv.Itoa(maxHops + 5), server: true},
		{name: "at max client", hops: strconv.Itoa(maxHops), server: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			local := &localHandler{}
			front := serve(t, newHandler(t, Config{Local: local, Server: tc.server, HoldTimeout: 5 * time.Second,
				Leader:  func() string { return leaderAddr },
				Servers: func() []string { return []string{leaderAddr} }}))
			before := len(leaderRec.Calls())
			req := mustRequest(t, "PUT", "http://"+front+"/v1/kv/loop", strings.NewReader("x"))
			if tc.hops != "" {
				req.Header.Set(HeaderHops, tc.hops)
			}
			start := time.Now()
			a := do(t, c, req)
			calls := leaderRec.Calls()[before:]
			if !tc.wantForward {
				if a.status != http.StatusInternalServerError || a.body != "No cluster leader" {
					t.Fatalf("answer %d %q; want 500 No cluster leader", a.status, a.body)
				}
				if len(calls) != 0 {
					t.Fatalf("forwarded %d times past the hop limit", len(calls))
				}
				if d := time.Since(start); d > time.Second {
					t.Errorf("refusal took %v; want immediate (not held)", d)
				}
				return
			}
			if a.status != http.StatusOK || len(calls) != 1 || calls[0].Header.Get(HeaderHops) != tc.wantHops {
				t.Fatalf("answer %d, calls %d; want forwarded with hops %s", a.status, len(calls), tc.wantHops)
			}
		})
	}

	t.Run("leader loop", func(t *testing.T) {
		// Two followers that each think the other leads: the call bounces
		// until the hop limit and fails instead of looping forever.
		var aAddr, bAddr atomic.Value
		aAddr.Store("")
		bAddr.Store("")
		var aLocal, bLocal localHandler
		ha := newHandler(t, Config{Local: &aLocal, Server: true, NodeName: "a", HoldTimeout: 5 * time.Second,
			Leader: func() string { return bAddr.Load().(string) }})
		hb := newHandler(t, Config{Local: &bLocal, Server: true, NodeName: "b", HoldTimeout: 5 * time.Second,
			Leader: func() string { return aAddr.Load().(string) }})
		aAddr.Store(serve(t, ha))
		bAddr.Store(serve(t, hb))
		start := time.Now()
		a := do(t, c, mustRequest(t, "PUT", "http://"+aAddr.Load().(string)+"/v1/kv/x", strings.NewReader("v")))
		if a.status != http.StatusInternalServerError || a.body != "No cluster leader" {
			t.Fatalf("answer %d %q; want 500 No cluster leader", a.status, a.body)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("loop took %v", d)
		}
		if aLocal.hits.Load()+bLocal.hits.Load() != 0 {
			t.Errorf("a follower answered locally")
		}
	})
}

// ---- streaming -------------------------------------------------------------

// TestStreamingAnswer: an answer the target flushes while it keeps the
// response open (a monitor stream, a long blocking query) reaches the
// caller as it is written, not when the handler returns.
func TestStreamingAnswer(t *testing.T) {
	cases := []struct {
		name   string
		server bool
		path   string
	}{
		{name: "follower to leader", server: true, path: "/v1/kv/stream?index=5&wait=1m"},
		{name: "client to server", server: false, path: "/v1/event/list?index=3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			finished := make(chan struct{})
			var releaseOnce sync.Once
			releaseIt := func() { releaseOnce.Do(func() { close(release) }) }
			t.Cleanup(releaseIt)
			targetAddr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(finished)
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("X-Consul-Index", "7")
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, "first line\n")
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				io.WriteString(w, "second line\n")
			}))
			cfg := Config{Local: &localHandler{}, Server: tc.server,
				Leader:  func() string { return targetAddr },
				Servers: func() []string { return []string{targetAddr} }}
			front := serve(t, newHandler(t, cfg))

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req := mustRequest(t, "GET", "http://"+front+tc.path, nil).WithContext(ctx)
			resp, err := testClient(t).Do(req)
			if err != nil {
				t.Fatalf("call: %v (headers not passed on before the handler finished?)", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Consul-Index") != "7" {
				t.Errorf("status %d, index %q", resp.StatusCode, resp.Header.Get("X-Consul-Index"))
			}
			br := bufio.NewReader(resp.Body)
			line, err := br.ReadString('\n')
			if err != nil || line != "first line\n" {
				t.Fatalf("first line %q, %v (not streamed before the handler finished?)", line, err)
			}
			select {
			case <-finished:
				t.Fatal("target handler already finished; the test proves nothing")
			default:
			}
			releaseIt()
			rest, err := io.ReadAll(br)
			if err != nil || string(rest) != "second line\n" {
				t.Fatalf("rest %q, %v", rest, err)
			}
		})
	}
}

// TestForwardDirect exercises Forward as the agent's own applier uses it.
func TestForwardDirect(t *testing.T) {
	leaderRec := &recorder{status: http.StatusCreated, body: "made"}
	leaderAddr := serve(t, leaderRec)
	h := newHandler(t, Config{Local: &localHandler{}, Server: true, NodeName: "n9",
		Leader: func() string { return leaderAddr }})
	req := mustRequest(t, "PUT", "http://ignored.invalid/v1/session/create?dc=dc1", bytes.NewReader([]byte(`{"TTL":"10s"}`)))
	resp, err := h.Forward(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || string(b) != "made" {
		t.Fatalf("answer %d %q", resp.StatusCode, b)
	}
	calls := leaderRec.Calls()
	if len(calls) != 1 || calls[0].Path != "/v1/session/create" || calls[0].RawQuery != "dc=dc1" ||
		string(calls[0].Body) != `{"TTL":"10s"}` || calls[0].Header.Get(HeaderOriginNode) != "n9" {
		t.Fatalf("leader got %+v", calls)
	}
}
