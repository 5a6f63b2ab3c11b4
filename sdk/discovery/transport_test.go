package discovery_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/musterhq/muster/internal/testagent"
	"github.com/musterhq/muster/sdk/balance"
	"github.com/musterhq/muster/sdk/discovery"
)

// newClient returns an http.Client whose Transport routes through r with
// policy, on a base transport of its own.
func newClient(t testing.TB, r *discovery.Resolver, policy string) *http.Client {
	t.Helper()
	base := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(base.CloseIdleConnections)
	return &http.Client{Transport: &discovery.Transport{Resolver: r, Base: base, Policy: policy}}
}

// send sends a request and returns the X-Backend header of the answer.
func send(t testing.TB, c *http.Client, method, url, body string) (string, error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d", method, url, resp.StatusCode)
	}
	return resp.Header.Get("X-Backend"), nil
}

// Smooth weighted round robin is deterministic: weights 1, 5 and 10 get
// exactly 10, 50 and 100 of 160 requests.
func TestTransport_WeightedExact(t *testing.T) {
	a := testagent.Start(t)
	weights := map[string]int{"user-1": 1, "user-5": 5, "user-10": 10}
	for name, w := range weights {
		registerBackend(t, a, startBackend(t, name), "UserService", w)
	}
	c := newClient(t, newResolver(t, a.Client, discovery.Options{}), balance.PolicyWeighted)
	counts := map[string]int{}
	for range 160 {
		name, err := send(t, c, http.MethodGet, "http://UserService/api/users/all", "")
		if err != nil {
			t.Fatal(err)
		}
		counts[name]++
	}
	for name, w := range weights {
		if counts[name] != 10*w {
			t.Errorf("%s (weight %d) got %d requests, want %d; all: %v", name, w, counts[name], 10*w, counts)
		}
	}
}

// An instance that died but is still registered and passing: replayable
// requests go on to the other instance; a POST fails with the dial error.
func TestTransport_RetryDeadInstance(t *testing.T) {
	a := testagent.Start(t)
	dead, live := startBackend(t, "a-dead"), startBackend(t, "b-live") // sorted by ID: dead first
	registerBackend(t, a, dead, "web", 0)
	registerBackend(t, a, live, "web", 0)
	c := newClient(t, newResolver(t, a.Client, discovery.Options{}), balance.PolicyRoundRobin)
	if _, err := send(t, c, http.MethodGet, "http://web/", ""); err != nil {
		t.Fatal(err) // both up: warms the resolver
	}
	dead.srv.Close()

	type testcase struct {
		method, body string
		header       string // set to "k" when not empty
		retried      bool
	}
	run := func(t *testing.T, tc testcase) {
		// Round robin over two instances: of two requests, one picks the
		// dead instance first.
		var failures int
		for range 2 {
			before := live.count(tc.method)
			req, err := http.NewRequestWithContext(t.Context(), tc.method, "http://web/orders", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.header != "" {
				req.Header.Set(tc.header, "k")
			}
			resp, err := c.Do(req)
			if err != nil {
				failures++
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Fatalf("error %v, want a refused connection", err)
				}
				if !strings.Contains(err.Error(), `service "web"`) || !strings.Contains(err.Error(), "a-dead") {
					t.Fatalf("error %q does not name the service and instance", err)
				}
				if live.count(tc.method) != before {
					t.Fatal("the failed request reached the live instance too")
				}
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if got := resp.Header.Get("X-Backend"); got != "b-live" {
				t.Fatalf("answered by %q", got)
			}
		}
		if tc.retried && failures != 0 {
			t.Fatalf("%d of 2 requests failed; want all retried", failures)
		}
		if !tc.retried && failures != 1 {
			t.Fatalf("%d of 2 requests failed; want exactly the one sent to the dead instance", failures)
		}
		if want := 2 * len(tc.body); tc.retried && live.bodyBytes(tc.method) < want {
			t.Fatalf("live instance received %d body bytes, want at least %d: bodies not rewound", live.bodyBytes(tc.method), want)
		}
	}
	for name, tc := range map[string]testcase{
		"GET":                       {method: http.MethodGet, retried: true},
		"HEAD":                      {method: http.MethodHead, retried: true},
		"PUT with a body":           {method: http.MethodPut, body: `{"id":1}`, retried: true},
		"DELETE":                    {method: http.MethodDelete, retried: true},
		"POST with Idempotency-Key": {method: http.MethodPost, body: "pay 1", header: "Idempotency-Key", retried: true},
		"POST":                      {method: http.MethodPost, body: "pay 1", retried: false},
		"PATCH":                     {method: http.MethodPatch, body: "x", retried: false},
	} {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

// After the first answer, requests do not need the agent.
func TestTransport_AgentDown(t *testing.T) {
	a := testagent.Start(t)
	registerBackend(t, a, startBackend(t, "web-1"), "web", 0)
	registerBackend(t, a, startBackend(t, "web-2"), "web", 0)
	r := newResolver(t, a.Client, discovery.Options{BackoffMin: time.Millisecond, BackoffMax: 20 * time.Millisecond})
	c := newClient(t, r, balance.PolicyRoundRobin)
	if _, err := send(t, c, http.MethodGet, "http://web/", ""); err != nil {
		t.Fatal(err)
	}
	a.Shutdown()
	testagent.WaitFor(t, waitTimeout, "the watcher to notice the agent is gone", func() bool {
		return r.Watch("web").Err() != nil
	})
	seen := map[string]int{}
	for range 20 {
		name, err := send(t, c, http.MethodGet, "http://web/", "")
		if err != nil {
			t.Fatalf("request with the agent down: %v", err)
		}
		seen[name]++
	}
	if seen["web-1"] != 10 || seen["web-2"] != 10 {
		t.Fatalf("requests by instance = %v, want 10 each", seen)
	}
}

// No healthy instance: an error wrapping balance.ErrNoInstance that names
// the service.
func TestTransport_NoInstance(t *testing.T) {
	a := testagent.Start(t)
	register(t, a, instance{id: "sick-1", service: "sick", addr: "127.0.0.1", port: 1})
	setHealth(t, a, "sick-1", false)
	c := newClient(t, newResolver(t, a.Client, discovery.Options{}), "")
	for _, service := range []string{"sick", "ghost"} {
		_, err := send(t, c, http.MethodGet, "http://"+service+"/", "")
		if !errors.Is(err, balance.ErrNoInstance) || !strings.Contains(err.Error(), `"`+service+`"`) {
			t.Fatalf("%s: error %v, want ErrNoInstance naming the service", service, err)
		}
	}
}

// Hosts that are not service names go to Base untouched, and the caller's
// request is never modified.
func TestTransport_PassThroughAndNoMutation(t *testing.T) {
	a := testagent.Start(t)
	b := startBackend(t, "web-1")
	registerBackend(t, a, b, "web", 0)
	c := newClient(t, newResolver(t, a.Client, discovery.Options{}), "")

	if name, err := send(t, c, http.MethodGet, b.srv.URL+"/direct", ""); err != nil || name != "web-1" {
		t.Fatalf("direct request: %q, %v", name, err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://web/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.URL.Host != "web" || req.Host != "web" {
		t.Fatalf("caller's request changed: URL.Host %q, Host %q", req.URL.Host, req.Host)
	}
	if host, port := b.hostPort(t); resp.Request.URL.Host != net.JoinHostPort(host, strconv.Itoa(port)) {
		t.Fatalf("resp.Request.URL.Host = %q, want the instance", resp.Request.URL.Host)
	}
}

// The balancer's Done runs when the response body is closed, not before.
func TestTransport_DoneOnBodyClose(t *testing.T) {
	a := testagent.Start(t)
	registerBackend(t, a, startBackend(t, "web-1"), "web", 0)
	var inflight atomic.Int64
	tr := &discovery.Transport{
		Resolver: newResolver(t, a.Client, discovery.Options{}),
		NewBalancer: func(string) (balance.Balancer, error) {
			return countingBalancer{balance.NewRoundRobin(), &inflight}, nil
		},
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://web/", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if n := inflight.Load(); n != 1 {
		t.Fatalf("in flight before Close = %d, want 1", n)
	}
	resp.Body.Close()
	resp.Body.Close()
	if n := inflight.Load(); n != 0 {
		t.Fatalf("in flight after Close = %d, want 0", n)
	}
}

// countingBalancer counts requests between Pick and Done.
type countingBalancer struct {
	balance.Balancer
	inflight *atomic.Int64
}

func (c countingBalancer) Pick(insts []balance.Instance) (balance.Instance, balance.Done, error) {
	inst, done, err := c.Balancer.Pick(insts)
	if err != nil {
		return inst, done, err
	}
	c.inflight.Add(1)
	return inst, func() { c.inflight.Add(-1); done() }, nil
}

func TestTransport_BadPolicy(t *testing.T) {
	a := testagent.Start(t)
	c := newClient(t, newResolver(t, a.Client, discovery.Options{}), "least-conn")
	if _, err := send(t, c, http.MethodGet, "http://web/", ""); !errors.Is(err, balance.ErrUnknownPolicy) {
		t.Fatalf("error %v, want ErrUnknownPolicy", err)
	}
}
