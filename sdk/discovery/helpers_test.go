package discovery_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/internal/testagent"
	"github.com/musterhq/muster/sdk/balance"
	"github.com/musterhq/muster/sdk/discovery"
)

// waitTimeout bounds every poll for a state the test expects to reach; it
// is a liveness bound, not a timing assertion.
const waitTimeout = 10 * time.Second

// newResolver returns a Resolver on a's HTTP API, closed in t.Cleanup.
func newResolver(t testing.TB, client *api.Client, opts discovery.Options) *discovery.Resolver {
	t.Helper()
	r, err := discovery.NewResolver(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// instance describes one registration for register.
type instance struct {
	id, service string
	addr        string // empty: the node's address applies
	port        int
	weight      int // Weights.Passing; 0 leaves Weights out
	tags        []string
	meta        map[string]string
}

// register registers inst on a with a passing TTL check named id+"-ttl".
func register(t testing.TB, a *testagent.Agent, inst instance) {
	t.Helper()
	reg := &consul.AgentServiceRegistration{
		ID: inst.id, Name: inst.service, Address: inst.addr, Port: inst.port,
		Tags: inst.tags, Meta: inst.meta,
		Check: &consul.AgentServiceCheck{CheckID: inst.id + "-ttl", TTL: "10m", Status: consul.HealthPassing},
	}
	if inst.weight > 0 {
		reg.Weights = &consul.AgentWeights{Passing: inst.weight, Warning: 1}
	}
	if err := a.Client.Agent().ServiceRegister(reg); err != nil {
		t.Fatalf("register %s: %v", inst.id, err)
	}
}

// setHealth passes or fails the TTL check of instance id.
func setHealth(t testing.TB, a *testagent.Agent, id string, passing bool) {
	t.Helper()
	var err error
	if passing {
		err = a.Client.Agent().PassTTL(id+"-ttl", "ok")
	} else {
		err = a.Client.Agent().FailTTL(id+"-ttl", "down")
	}
	if err != nil {
		t.Fatalf("set health of %s: %v", id, err)
	}
}

// ids returns the IDs of insts, in order.
func ids(insts []balance.Instance) []string {
	out := make([]string, len(insts))
	for i, in := range insts {
		out[i] = in.ID
	}
	return out
}

// backend is an HTTP server that answers every request with its name in
// the X-Backend header and counts requests by method.
type backend struct {
	name string
	srv  *httptest.Server
	mu   sync.Mutex
	hits map[string]int // by method; guarded by mu
	body map[string]int // bytes of request bodies received, by method; guarded by mu
}

func startBackend(t testing.TB, name string) *backend {
	t.Helper()
	b := &backend{name: name, hits: map[string]int{}, body: map[string]int{}}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		b.mu.Lock()
		b.hits[r.Method]++
		b.body[r.Method] += int(n)
		b.mu.Unlock()
		w.Header().Set("X-Backend", name)
		io.WriteString(w, name)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) count(method string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hits[method]
}

func (b *backend) bodyBytes(method string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.body[method]
}

// hostPort splits the backend's listener address.
func (b *backend) hostPort(t testing.TB) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(b.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return host, p
}

// registerBackend registers b as instance id of service with weight.
func registerBackend(t testing.TB, a *testagent.Agent, b *backend, service string, weight int) {
	t.Helper()
	host, port := b.hostPort(t)
	register(t, a, instance{id: b.name, service: service, addr: host, port: port, weight: weight})
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
