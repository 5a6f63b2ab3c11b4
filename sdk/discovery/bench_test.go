package discovery_test

import (
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/musterhq/muster/internal/testagent"
	"github.com/musterhq/muster/sdk/balance"
	"github.com/musterhq/muster/sdk/discovery"
)

// BenchmarkTransport sends GETs to a local HTTP server over one keep-alive
// base transport, directly ("plain") and through the discovery Transport
// ("discovery"), and, in "interleaved", alternates the two within each
// iteration and reports each one's time per request and their difference
// (overhead-ns/req): the cost the Transport adds to a real request. The
// difference is small against a loopback round trip and noisy; see
// BenchmarkRoute for the overhead alone.
func BenchmarkTransport(b *testing.B) {
	a := testagent.Start(b)
	be := startBackend(b, "web-1")
	registerBackend(b, a, be, "web", 0)
	base := &http.Transport{MaxIdleConnsPerHost: 16}
	b.Cleanup(base.CloseIdleConnections)
	plain := &http.Client{Transport: base}
	routed := &http.Client{Transport: &discovery.Transport{
		Resolver: newResolver(b, a.Client, discovery.Options{}),
		Base:     base,
	}}
	plainURL, routedURL := be.srv.URL+"/x", "http://web/x"
	get := func(c *http.Client, url string) {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get(routed, routedURL) // the first answer, and a warm connection

	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			get(plain, plainURL)
		}
	})
	b.Run("discovery", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			get(routed, routedURL)
		}
	})
	b.Run("interleaved", func(b *testing.B) {
		var tPlain, tRouted time.Duration
		n := 0
		for b.Loop() {
			t0 := time.Now()
			get(plain, plainURL)
			t1 := time.Now()
			get(routed, routedURL)
			tRouted += time.Since(t1)
			tPlain += t1.Sub(t0)
			n++
		}
		b.ReportMetric(float64(tPlain.Nanoseconds())/float64(n), "plain-ns/req")
		b.ReportMetric(float64(tRouted.Nanoseconds())/float64(n), "discovery-ns/req")
		b.ReportMetric(float64((tRouted-tPlain).Nanoseconds())/float64(n), "overhead-ns/req")
	})
}

// BenchmarkRoute isolates what the Transport adds to a request: the
// snapshot load, the pick among 10 instances, the URL rewrite and the body
// wrapper, over a base RoundTripper that answers at once with a canned
// response. "canned" is that base alone; the difference is the overhead.
func BenchmarkRoute(b *testing.B) {
	a := testagent.Start(b)
	for i := range 10 {
		register(b, a, instance{id: "web-" + strconv.Itoa(i), service: "web", addr: "10.0.0.1", port: 8000 + i, weight: i + 1})
	}
	r := newResolver(b, a.Client, discovery.Options{})
	if _, err := r.Instances(b.Context(), "web"); err != nil {
		b.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, "http://web/api/users/all", nil)
	if err != nil {
		b.Fatal(err)
	}
	roundTrip := func(b *testing.B, rt http.RoundTripper) {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
	b.Run("canned", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			roundTrip(b, canned{})
		}
	})
	for _, policy := range balance.Policies() {
		tr := &discovery.Transport{Resolver: r, Base: canned{}, Policy: policy}
		b.Run(policy, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				roundTrip(b, tr)
			}
		})
		b.Run(policy+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := tr.RoundTrip(req)
					if err != nil {
						b.Error(err)
						return
					}
					resp.Body.Close()
				}
			})
		})
	}
}

// canned is a RoundTripper that answers 200 with an empty body at once.
type canned struct{}

func (canned) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req, Header: http.Header{}}, nil
}
