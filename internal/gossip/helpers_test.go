package gossip

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitTimeout bounds every wait so a broken test fails instead of hanging.
// It is a deadline, not an assertion about speed.
const waitTimeout = 15 * time.Second

// testConfig is a pool on its own loopback address (see nextLoopback), with
// an ephemeral port and fast timing.
func testConfig(name string) Config {
	return Config{
		NodeName:   name,
		BindAddr:   nextLoopback(),
		Datacenter: "dc1",
		Tags:       map[string]string{"role": "node", "build": "test"},
		Timing:     FastTiming(),
	}
}

// startPool starts a pool that is shut down when the test ends.
func startPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t, cfg.NodeName)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", cfg.NodeName, err)
	}
	t.Cleanup(func() {
		if err := p.Shutdown(); err != nil {
			t.Errorf("Shutdown(%s): %v", cfg.NodeName, err)
		}
	})
	return p
}

// startCluster starts n pools named n1..nN, joins them through the first and
// waits until every pool sees all of them alive.
func startCluster(t *testing.T, n int, edit func(*Config)) []*Pool {
	t.Helper()
	pools := make([]*Pool, n)
	for i := range pools {
		cfg := testConfig("n" + strconv.Itoa(i+1))
		if edit != nil {
			edit(&cfg)
		}
		pools[i] = startPool(t, cfg)
	}
	for _, p := range pools[1:] {
		if _, err := p.Join([]string{addrOf(pools[0])}); err != nil {
			t.Fatalf("join: %v", err)
		}
	}
	for _, p := range pools {
		for _, q := range pools {
			waitStatus(t, p, q.cfg.NodeName, StatusAlive)
		}
	}
	return pools
}

// loopbackNext numbers the loopback addresses handed out by nextLoopback.
var (
	loopbackNet  = 1 + rand.IntN(254)
	loopbackNext atomic.Uint32
)

// nextLoopback returns a loopback IP no other pool of this test binary uses.
// Pools of parallel tests (and successive -count runs) then never share an
// address, so a pool that grabs a port another test's pool just released
// cannot receive that pool's gossip and merge two tests' clusters. Like
// memberlist's own tests, it relies on all of 127/8 being loopback (Linux).
func nextLoopback() string {
	n := loopbackNext.Add(1)
	return fmt.Sprintf("127.%d.%d.%d", loopbackNet, n/250%250, 1+n%250)
}

// unusedAddr is an address where nothing listens: joins to it fail fast.
func unusedAddr() string { return net.JoinHostPort(nextLoopback(), "7946") }

// addrOf is the host:port another pool joins p at.
func addrOf(p *Pool) string {
	m := p.LocalMember()
	return net.JoinHostPort(m.Addr, strconv.Itoa(m.Port))
}

// statusOf is p's view of member name (StatusNone if unknown).
func statusOf(p *Pool, name string) Status {
	m, _ := memberOf(p, name)
	return m.Status
}

func memberOf(p *Pool, name string) (Member, bool) {
	for _, m := range p.Members() {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

// waitFor polls cond until it holds, failing the test with cond's last
// description after waitTimeout.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, desc := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last: %s", what, desc)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitStatus waits until p sees member name with status want.
func waitStatus(t *testing.T, p *Pool, name string, want Status) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s to see %s %s", p.cfg.NodeName, name, want), func() (bool, string) {
		got := statusOf(p, name)
		return got == want, "status " + got.String()
	})
}

// waitEvent reads p's events until one of type typ about member name
// arrives, skipping others, and returns it.
func waitEvent(t *testing.T, p *Pool, typ EventType, name string) Event {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	var seen []string
	for {
		select {
		case ev, ok := <-p.Events():
			if !ok {
				t.Fatalf("%s: events closed waiting for %s %s; seen %v", p.cfg.NodeName, typ, name, seen)
			}
			if ev.Type == typ && ev.Member.Name == name {
				return ev
			}
			seen = append(seen, ev.Type.String()+":"+ev.Member.Name)
		case <-timer.C:
			t.Fatalf("%s: timed out waiting for event %s %s; seen %v", p.cfg.NodeName, typ, name, seen)
		}
	}
}

// waitEvents reads p's events until each of want ("join:n2", ...) has
// arrived, in any order, skipping others.
func waitEvents(t *testing.T, p *Pool, want ...string) {
	t.Helper()
	missing := make(map[string]bool)
	for _, w := range want {
		missing[w] = true
	}
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	var seen []string
	for len(missing) > 0 {
		select {
		case ev, ok := <-p.Events():
			if !ok {
				t.Fatalf("%s: events closed waiting for %v; seen %v", p.cfg.NodeName, want, seen)
			}
			key := ev.Type.String() + ":" + ev.Member.Name
			delete(missing, key)
			seen = append(seen, key)
		case <-timer.C:
			t.Fatalf("%s: timed out waiting for events %v; seen %v", p.cfg.NodeName, want, seen)
		}
	}
}

// freePort returns a port of ip that was free for TCP and UDP a moment ago.
func freePort(t *testing.T, ip string) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port)))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// testLogger logs to t at warn level (debug with GOSSIP_TEST_DEBUG=1) and
// goes quiet once the test's cleanups have run, so memberlist goroutines that
// log late do not touch a finished test.
func testLogger(t *testing.T, node string) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop) // registered before the pool's cleanup, so runs after it
	level := slog.LevelWarn
	if os.Getenv("GOSSIP_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})).With("node", node)
}

// signalHandler passes records on to next and closes ch the first time one
// with message msg is logged.
type signalHandler struct {
	next slog.Handler
	msg  string
	once *sync.Once
	ch   chan struct{}
}

func newSignalHandler(next slog.Handler, msg string) signalHandler {
	return signalHandler{next: next, msg: msg, once: new(sync.Once), ch: make(chan struct{})}
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h signalHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.ch) })
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h signalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h.next = h.next.WithAttrs(as)
	return h
}

func (h signalHandler) WithGroup(name string) slog.Handler {
	h.next = h.next.WithGroup(name)
	return h
}

type testWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *testWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}
