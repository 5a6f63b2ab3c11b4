package checks

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// newHTTPServer starts an httptest server with handler, closed in t.Cleanup.
func newHTTPServer(t *testing.T, handler http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPStatus(t *testing.T) {
	type testcase struct {
		code       int
		wantStatus string
	}
	run := func(t *testing.T, tc testcase) {
		srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.code)
			io.WriteString(w, "hello")
		})
		rec := newRecorder(t)
		url := srv.URL + "/health"
		start(t, Spec{ID: "web", HTTP: url, Interval: testInterval}, rec)

		u := rec.waitMatch(t, "any status", func(update) bool { return true })
		if u.id != "web" || u.status != tc.wantStatus {
			t.Errorf("got %s %s, want web %s", u.id, u.status, tc.wantStatus)
		}
		want := fmt.Sprintf("HTTP GET %s: %d %s Output: hello", url, tc.code, http.StatusText(tc.code))
		if u.output != want {
			t.Errorf("output %q, want %q", u.output, want)
		}
	}

	cases := map[string]testcase{
		"200 is passing":  {http.StatusOK, Passing},
		"202 is passing":  {http.StatusAccepted, Passing},
		"429 is warning":  {http.StatusTooManyRequests, Warning},
		"503 is critical": {http.StatusServiceUnavailable, Critical},
		"404 is critical": {http.StatusNotFound, Critical},
		"300 is critical": {http.StatusMultipleChoices, Critical},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func TestHTTPConnectionRefused(t *testing.T) {
	rec := newRecorder(t)
	start(t, Spec{ID: "web", HTTP: "http://" + closedAddr(t) + "/", Interval: testInterval}, rec)
	u := rec.waitFor(t, Critical)
	if !strings.Contains(u.output, "connection refused") {
		t.Errorf("output %q, want the dial error", u.output)
	}
}

func TestHTTPTimeout(t *testing.T) {
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // answers only when the client gives up
	})
	rec := newRecorder(t)
	start(t, Spec{ID: "web", HTTP: srv.URL, Interval: testInterval, Timeout: 20 * time.Millisecond}, rec)
	u := rec.waitFor(t, Critical)
	if !strings.Contains(u.output, "context deadline exceeded") {
		t.Errorf("output %q, want a timeout", u.output)
	}
}

// request is what a test server saw of a check's request.
type request struct {
	method, host, body string
	header             http.Header
}

// newRecordingServer starts a server that sends the first request it gets to
// the returned channel.
func newRecordingServer(t *testing.T) (*httptest.Server, <-chan request) {
	requests := make(chan request, 1)
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case requests <- request{r.Method, r.Host, string(body), r.Header}:
		default:
		}
	})
	return srv, requests
}

func TestHTTPRequestDefaults(t *testing.T) {
	srv, requests := newRecordingServer(t)
	start(t, Spec{ID: "web", HTTP: srv.URL, Interval: testInterval}, newRecorder(t))
	req := receive(t, requests)
	if req.method != "GET" || req.body != "" {
		t.Errorf("method %q body %q, want GET and no body", req.method, req.body)
	}
	if got := req.header.Get("User-Agent"); got != "Consul Health Check" {
		t.Errorf("User-Agent %q", got)
	}
	if got := req.header.Get("Accept"); got != "text/plain, text/*, */*" {
		t.Errorf("Accept %q", got)
	}
}

// Probes of one check reuse one connection (Consul opens one per probe,
// which costs about 1 ms of CPU each).
func TestHTTPReusesOneConnection(t *testing.T) {
	var conns atomic.Int32
	probes := make(chan struct{}, 16)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case probes <- struct{}{}:
		default:
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	start(t, Spec{ID: "web", HTTP: srv.URL, Interval: testInterval}, newRecorder(t))
	for i := 0; i < 3; i++ {
		select {
		case <-probes:
		case <-time.After(10 * time.Second):
			t.Fatalf("probe %d never came", i+1)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("3 probes opened %d connections, want 1", n)
	}
}

func TestHTTPRequestFromSpec(t *testing.T) {
	srv, requests := newRecordingServer(t)
	header := map[string][]string{
		"X-Token":    {"secret"},
		"User-Agent": {"probe/1"},
		"Host":       {"web.service"},
	}
	start(t, Spec{ID: "web", HTTP: srv.URL, Method: "PUT", Header: header, Body: `{"ping":1}`, Interval: testInterval}, newRecorder(t))
	req := receive(t, requests)
	if req.method != "PUT" || req.body != `{"ping":1}` {
		t.Errorf("method %q body %q", req.method, req.body)
	}
	if req.header.Get("X-Token") != "secret" || req.header.Get("User-Agent") != "probe/1" {
		t.Errorf("header %v", req.header)
	}
	if req.host != "web.service" {
		t.Errorf("Host %q, want web.service", req.host)
	}
	if len(header["User-Agent"]) != 1 || header["Accept"] != nil {
		t.Errorf("the caller's Header map was modified: %v", header)
	}
}

func TestHTTPOutputTruncated(t *testing.T) {
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("0123456789", 100))
	})
	rec := newRecorder(t)
	start(t, Spec{ID: "web", HTTP: srv.URL, Interval: testInterval, OutputMaxSize: 15}, rec)
	u := rec.waitFor(t, Passing)
	if want := "HTTP GET " + srv.URL + ": 200 OK Output: 012345678901234"; u.output != want {
		t.Errorf("output %q, want %q", u.output, want)
	}
}

func TestHTTPTLS(t *testing.T) {
	cert, pool := newTestCert(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes the checks fail on purpose
	srv.StartTLS()
	t.Cleanup(srv.Close)

	trusted := &tls.Config{RootCAs: pool}
	type testcase struct {
		base       *tls.Config
		spec       Spec
		wantStatus string
		wantOutput string
	}
	run := func(t *testing.T, tc testcase) {
		opts := testOptions(t)
		opts.TLSConfig = tc.base
		rec := newRecorder(t)
		tc.spec.ID, tc.spec.HTTP, tc.spec.Interval = "web", srv.URL, testInterval
		startWith(t, tc.spec, rec, opts)
		u := rec.waitMatch(t, "any status", func(update) bool { return true })
		if u.status != tc.wantStatus || !strings.Contains(u.output, tc.wantOutput) {
			t.Errorf("got %s %q, want %s and %q", u.status, u.output, tc.wantStatus, tc.wantOutput)
		}
	}

	cases := map[string]testcase{
		"unknown authority": {spec: Spec{}, wantStatus: Critical, wantOutput: "certificate"},
		"skip verify":       {spec: Spec{TLSSkipVerify: true}, wantStatus: Passing, wantOutput: "200 OK"},
		"trusted root":      {base: trusted, wantStatus: Passing, wantOutput: "200 OK"},
		"server name":       {base: trusted, spec: Spec{TLSServerName: "checks.test"}, wantStatus: Passing, wantOutput: "200 OK"},
		"wrong server name": {base: trusted, spec: Spec{TLSServerName: "other.test"}, wantStatus: Critical, wantOutput: "other.test"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
	if trusted.ServerName != "" || trusted.InsecureSkipVerify {
		t.Errorf("Options.TLSConfig was modified: %+v", trusted)
	}
}
