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
	// One transport per check, without keep-alives as in Consul: each probe
	// opens a fresh connection, so it tests that the service accepts one,
	// and never fails on an idle connection the server has since closed.
	// Like Consul's, it honours HTTP_PROXY and friends (never for loopback).
	// Dials and handshakes are bounded by the probe's context.
	t := &http.Transport{
		Proxy:             http.ProxyFromEnvironment,
		DisableKeepAlives: true,
		TLSClientConfig:   tlsConfig,
		ForceAttemptHTTP2: true, // a custom TLSClientConfig turns HTTP/2 off otherwise
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
	// (the connection is not reused). A read error only shortens the output:
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
