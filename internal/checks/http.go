package checks

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// httpProber is the prober of an HTTP check (Consul's CheckHTTP): a 2xx
// answer is passing, 429 Too Many Requests warning, anything else or no
// answer critical. The output is "HTTP <method> <url>: <status> Output:
// <body>", with at most OutputMaxSize bytes of the body.
type httpProber struct {
	url, method, body string
	header            http.Header // defaults applied; immutable
	maxOutput         int
	transport         *http.Transport
	client            *http.Client
}

func newHTTPProber(s Spec, tlsConfig *tls.Config) *httpProber {
	// One transport per check, keeping one connection alive between
	// probes. Consul opens a new connection for every probe; on this
	// machine that costs about 1 ms of CPU per probe (dial, two transport
	// goroutines, close), which for 1000 checks every 10 s is a tenth of a
	// core. A reused connection still fails when the process dies (reset)
	// or stops answering (timeout); a connection the server closed while
	// idle is retried on a new one for idempotent methods, and thresholds
	// absorb the rare non-idempotent probe that meets one. The idle
	// connection is dropped after two intervals. Like Consul's transport,
	// it honours HTTP_PROXY and friends (never for loopback). Dials and
	// handshakes are bounded by the probe's context.
	// Only GET and HEAD probes keep their connection: Go retries those on a
	// fresh connection when the server closed the idle one, but not a POST
	// or PUT with a body, which would turn critical for nothing.
	keepAlive := s.Method == "" || s.Method == http.MethodGet || s.Method == http.MethodHead
	t := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DisableKeepAlives:   !keepAlive,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     2 * s.Interval,
		TLSClientConfig:     tlsConfig,
		ForceAttemptHTTP2:   true, // a custom TLSClientConfig turns HTTP/2 off otherwise
	}

	header := http.Header(s.Header).Clone()
	if header == nil {
		header = make(http.Header)
	}
	if header.Get("User-Agent") == "" {
		header.Set("User-Agent", UserAgent)
	}
	if header.Get("Accept") == "" {
		header.Set("Accept", "text/plain, text/*, */*")
	}
	return &httpProber{
		url:       s.HTTP,
		method:    s.Method,
		body:      s.Body,
		header:    header,
		maxOutput: s.OutputMaxSize,
		transport: t,
		client:    &http.Client{Transport: t},
	}
}

func (p *httpProber) probe(ctx context.Context) (string, string) {
	req, err := http.NewRequestWithContext(ctx, p.method, p.url, strings.NewReader(p.body))
	if err != nil {
		return Critical, err.Error()
	}
	req.Header = p.header.Clone()
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host // net/http ignores a Host entry in Header
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return Critical, err.Error()
	}
	defer resp.Body.Close()

	// Read no more than we keep: Consul reads the whole body into a ring
	// buffer and keeps its end; we keep its start and leave the rest unread
	// (which closes this probe's connection instead of keeping it for the
	// next). A read error only shortens the output:
	// the status code has decided.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, int64(p.maxOutput)))
	output := fmt.Sprintf("HTTP %s %s: %s Output: %s", p.method, p.url, resp.Status, body)
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		return Passing, output
	case resp.StatusCode == http.StatusTooManyRequests:
		return Warning, output
	}
	return Critical, output
}

func (p *httpProber) close() { p.transport.CloseIdleConnections() }
