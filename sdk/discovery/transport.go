package discovery

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/musterhq/muster/sdk/balance"
)

// DefaultMaxAttempts is the number of instances a replayable request tries
// when Transport.MaxAttempts is 0.
const DefaultMaxAttempts = 3

// Transport is an http.RoundTripper that sends a request addressed to a
// service, as in http://UserService/api/users/all, to one of the service's
// healthy instances: http://10.0.0.7:5726/api/users/all.
//
// The URL's host is taken for a service name when IsService says so (by
// default IsServiceName: a single label without a port, such as
// "UserService", other than "localhost"); every other request goes to Base
// unchanged, so one client can mix services and ordinary hosts. The
// Resolver's list is read from memory: only the first request to a service
// waits, bounded by its context, for the Watcher's first answer. Each
// service has its own balance.Balancer, made once at its first request, and
// the balancer's Done is called when the response body is closed (or at
// once, when no response comes), so always close response bodies.
//
// A request is sent as a shallow copy whose URL host is the instance's
// host:port; the caller's request is never modified. Its Host header is the
// instance's address too, unless the caller set req.Host to something other
// than the URL's host. The response's Request is the copy, so
// resp.Request.URL names the instance that answered.
//
// Retries: when Base returns an error (no response: the dial failed, the
// connection was refused or reset, ...), a replayable request is sent again
// to another instance not yet tried, up to MaxAttempts instances in all.
// The first attempt is the Balancer's choice; a retry's is random among the
// instances not yet tried, in proportion to their weights, so retries leave
// the Balancer's sequence and counts as they were.
// Replayable means idempotent by RFC 9110 (GET, HEAD, OPTIONS, TRACE, PUT,
// DELETE) or carrying an Idempotency-Key or X-Idempotency-Key header, and
// with no body or a GetBody to rewind it (http.NewRequest sets GetBody for
// in-memory bodies). Other requests, a POST in particular, are sent once:
// a failure may have reached the instance, so only the caller can decide.
// Nothing is retried once the request's context has ended, nor after a
// response, whatever its status.
//
// When the service has no healthy instance, RoundTrip returns an error
// wrapping balance.ErrNoInstance that names the service.
//
// Set the fields before the first request and do not change them after.
// A Transport must not be copied after first use. It is safe for
// concurrent use.
type Transport struct {
	// Resolver supplies the instances. Required.
	Resolver *Resolver

	// Base sends the rewritten requests and the requests not addressed to
	// a service. Nil means http.DefaultTransport.
	Base http.RoundTripper

	// Policy names the balance policy (see balance.New) used for every
	// service. Empty means balance.PolicyWeighted, which with equal weights
	// is plain round robin.
	Policy string

	// NewBalancer, when set, replaces Policy: it is called once per
	// service, at the service's first request, and its Balancer serves
	// every later request to the service. An error fails that request and
	// the next one asks again.
	NewBalancer func(service string) (balance.Balancer, error)

	// MaxAttempts bounds how many instances one replayable request tries,
	// the first included. Zero means DefaultMaxAttempts; 1 disables retries.
	MaxAttempts int

	// IsService reports whether a URL host (host[:port], as in
	// req.URL.Host) is a service name. Nil means IsServiceName.
	IsService func(host string) bool

	routes sync.Map   // service name → *route
	mu     sync.Mutex // serialises creating routes
}

// route is what a Transport keeps per service. Immutable.
type route struct {
	watcher  *Watcher
	balancer balance.Balancer
}

// IsServiceName is Transport's default rule for telling service names from
// host names: host is a service name if it is a single DNS label (no dot),
// has no port (no colon, so no IP address either) and is not "localhost".
// "UserService" and "user-service" are service names; "api.example.com",
// "localhost", "127.0.0.1", "users:8080" and "[::1]" are not. Services whose
// names contain dots need a Transport.IsService of their own.
func IsServiceName(host string) bool {
	return host != "" && !strings.ContainsAny(host, ".:[]") && !strings.EqualFold(host, "localhost")
}

// RoundTrip implements http.RoundTripper as the type's documentation
// describes. It blocks only for the first request to a service (until the
// first answer from the registry) and for Base's round trips.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		closeBody(req)
		return nil, errors.New("discovery: request has no URL")
	}
	service := req.URL.Host
	isService := t.IsService
	if isService == nil {
		isService = IsServiceName
	}
	if !isService(service) {
		return t.base().RoundTrip(req)
	}
	rt, err := t.route(service)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	if err := rt.watcher.Ready(req.Context()); err != nil {
		closeBody(req)
		return nil, err
	}
	return t.send(req, service, rt)
}

// send tries the service's instances until one answers, as RoundTrip's
// retry rules allow.
func (t *Transport) send(req *http.Request, service string, rt *route) (*http.Response, error) {
	insts := rt.watcher.Instances() // one list for every attempt of this request
	attempts := t.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	replayable := isReplayable(req)
	var tried []balance.Instance
	var lastErr error
	for attempt := 1; ; attempt++ {
		var inst balance.Instance
		var done balance.Done
		var err error
		if len(tried) == 0 {
			inst, done, err = rt.balancer.Pick(insts)
		} else {
			inst, done, err = retryPicker.Pick(without(insts, tried))
		}
		if err != nil {
			if lastErr != nil {
				return nil, lastErr // every instance was tried
			}
			closeBody(req) // Base never saw it
			return nil, fmt.Errorf("discovery: service %q: %w", service, err)
		}
		out, err := outgoing(req, inst, attempt > 1)
		if err != nil {
			done()
			return nil, fmt.Errorf("discovery: service %q: %w (after %w)", service, err, lastErr)
		}
		resp, err := t.base().RoundTrip(out)
		if err == nil {
			if resp.Body == nil { // not from net/http, which never does this
				done()
				return resp, nil
			}
			resp.Body = doneBody(resp.Body, done)
			return resp, nil
		}
		done()
		lastErr = fmt.Errorf("discovery: service %q: instance %s: %w", service, inst.ID, err)
		if !replayable || attempt >= attempts || req.Context().Err() != nil {
			return nil, lastErr
		}
		tried = append(tried, inst)
	}
}

// retryPicker chooses the instance for a retry. Retries do not go through
// the service's Balancer: its state follows the full list (SmoothWeighted's
// sequence, P2C's counts), which a list without the failed instances would
// reset on every retry.
var retryPicker = balance.Random{Weighted: true}

// route returns the service's route, making it at first use.
func (t *Transport) route(service string) (*route, error) {
	if r, ok := t.routes.Load(service); ok {
		return r.(*route), nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if r, ok := t.routes.Load(service); ok {
		return r.(*route), nil
	}
	if t.Resolver == nil {
		return nil, errors.New("discovery: Transport.Resolver is nil")
	}
	var b balance.Balancer
	var err error
	switch {
	case t.NewBalancer != nil:
		b, err = t.NewBalancer(service)
		if err == nil && b == nil {
			err = errors.New("NewBalancer returned nil")
		}
	case t.Policy == "":
		b, err = balance.New(balance.PolicyWeighted)
	default:
		b, err = balance.New(t.Policy)
	}
	if err != nil {
		return nil, fmt.Errorf("discovery: service %q: balancer: %w", service, err)
	}
	r := &route{watcher: t.Resolver.Watch(service), balancer: b}
	t.routes.Store(service, r)
	return r, nil
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// CloseIdleConnections closes Base's idle connections, if Base can, so
// that http.Client.CloseIdleConnections reaches them.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base().(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// outgoing returns the request to send to inst: a shallow copy of req with
// the instance's address, and, for a replay, a fresh body from GetBody.
func outgoing(req *http.Request, inst balance.Instance, replay bool) (*http.Request, error) {
	o := &outRequest{req: *req, url: *req.URL} // one allocation for both copies
	out := &o.req
	o.url.Host = inst.Addr()
	out.URL = &o.url
	if req.Host == "" || req.Host == req.URL.Host {
		out.Host = "" // the Host header follows the URL: the instance
	}
	if replay && req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("rewinding the body: %w", err)
		}
		out.Body = body
	}
	return out, nil
}

// outRequest holds the copies of a request and of its URL that outgoing
// makes.
type outRequest struct {
	req http.Request
	url url.URL
}

// isReplayable reports whether req may be sent again after a failed
// attempt: idempotent, and with a body that can be had again.
func isReplayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	// As net/http: the header's presence counts, even with no value.
	if _, ok := req.Header["Idempotency-Key"]; ok {
		return true
	}
	_, ok := req.Header["X-Idempotency-Key"]
	return ok
}

// without returns the instances of insts not in tried, by ID, address and
// port. It allocates; it runs only on retries.
func without(insts, tried []balance.Instance) []balance.Instance {
	out := make([]balance.Instance, 0, len(insts))
	for _, in := range insts {
		seen := false
		for _, tr := range tried {
			if in.ID == tr.ID && in.Address == tr.Address && in.Port == tr.Port {
				seen = true
				break
			}
		}
		if !seen {
			out = append(out, in)
		}
	}
	return out
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// doneBody wraps a response body so that closing it calls done, once. A
// body that is also an io.Writer (a 101 Switching Protocols response's
// connection) stays one.
func doneBody(body io.ReadCloser, done balance.Done) io.ReadCloser {
	b := &bodyDone{ReadCloser: body, done: done}
	if w, ok := body.(io.Writer); ok {
		return &bodyDoneRW{bodyDone: b, Writer: w}
	}
	return b
}

type bodyDone struct {
	io.ReadCloser
	done   balance.Done
	closed atomic.Bool
}

func (b *bodyDone) Close() error {
	err := b.ReadCloser.Close()
	if b.closed.CompareAndSwap(false, true) {
		b.done()
	}
	return err
}

type bodyDoneRW struct {
	*bodyDone
	io.Writer
}
