package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	consul "github.com/hashicorp/consul/api"
)

// startMuster starts `muster agent -dev` on a free loopback port. With an
// empty bin it first builds muster from the enclosing repository.
func startMuster(ctx context.Context, dir, bin string) (*proc, *musterClient, error) {
	if bin == "" {
		var err error
		if bin, err = buildMuster(ctx, dir); err != nil {
			return nil, nil, err
		}
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, nil, err
	}
	// -enable-debug serves /debug/pprof on the HTTP port, so the agent can
	// be profiled under load (see README); it costs nothing until used.
	p, err := startProc("muster", dir, bin, "agent", "-dev", "-http-port="+strconv.Itoa(ports[0]), "-log-level=warn", "-enable-debug")
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(os.Stderr, "muster: HTTP API and /debug/pprof at http://127.0.0.1:%d\n", ports[0])
	c, err := apiClient(ctx, p, bin, ports[0])
	return p, c, err
}

// apiClient waits up to 30 s until the server p, started from bin, serves
// the HTTP API on port and /v1/status/leader names a leader, and returns
// its client. On failure it stops p.
func apiClient(ctx context.Context, p *proc, bin string, port int) (*musterClient, error) {
	c := newMusterClient("127.0.0.1:" + strconv.Itoa(port))
	err := p.waitReady(ctx, 30*time.Second, func(ctx context.Context) error {
		_, body, err := c.do(ctx, http.MethodGet, "/v1/status/leader", nil)
		if err == nil && len(bytes.Trim(body, "\"\n")) == 0 {
			err = errors.New("no leader yet")
		}
		return err
	})
	if err != nil {
		p.stop()
		return nil, err
	}
	c.bin, c.pid = bin, p.cmd.Process.Pid
	return c, nil
}

// buildMuster builds ./cmd/muster of the repository that holds the bench
// module (the nearest parent directory whose go.mod is muster's).
func buildMuster(ctx context.Context, dir string) (string, error) {
	root, err := musterRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "muster")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/muster")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/muster in %s: %v\n%s", root, err, out)
	}
	return bin, nil
}

func musterRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/musterhq/muster\n") {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("cannot find muster's repository above the working directory; pass -muster=PATH")
		}
		d = parent
	}
}

// musterClient speaks muster's HTTP API with plain net/http (keep-alive
// connections, no proxy), plus the Consul Go client for the
// "consul-api-lock" variant and the registry workloads. The bench does not
// import muster's own api package, so that it measures the wire protocol
// and builds whatever state that package is in. The API is Consul's, so
// the same client drives the "consul" system; the workloads use muster's
// extensions (fair acquire, the add verb, ?consistent) only on muster.
type musterClient struct {
	base   string // http://127.0.0.1:PORT
	addr   string
	bin    string
	pid    int // the agent's process, for check-cpu
	hc     *http.Client
	consul *consul.Client
}

// loopbackTransport is a keep-alive transport that never uses a proxy and
// keeps up to idle connections to the one host.
func loopbackTransport(idle int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     90 * time.Second,
	}
}

func newMusterClient(addr string) *musterClient {
	hc := &http.Client{Transport: loopbackTransport(256)}
	cc := consul.DefaultNonPooledConfig()
	cc.Address, cc.Scheme, cc.HttpClient = addr, "http", hc
	cl, err := consul.NewClient(cc)
	if err != nil {
		panic(err) // only fails on a bad TLS config, which we never set
	}
	return &musterClient{base: "http://" + addr, addr: addr, hc: hc, consul: cl}
}

// httpStatusError is a non-2xx answer, kept whole so a FAIL can show the
// exact request and response.
type httpStatusError struct {
	method, url string
	status      int
	code        string // X-Muster-Error-Code
	body        string
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("%s %s -> %d %s %q", e.method, e.url, e.status, e.code, e.body)
}

// errNotFound is a 404 on a key.
var errNotFound = errors.New("key not found")

// do sends one request and reads the whole answer. A 404 is errNotFound,
// any other non-2xx an *httpStatusError.
func (c *musterClient) do(ctx context.Context, method, pathQuery string, body []byte) (http.Header, []byte, error) {
	return c.doWith(ctx, c.hc, method, pathQuery, body)
}

func (c *musterClient) doWith(ctx context.Context, hc *http.Client, method, pathQuery string, body []byte) (http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+pathQuery, rd)
	if err != nil {
		return nil, nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: reading body: %w", method, pathQuery, err)
	}
	if resp.StatusCode == http.StatusNotFound && strings.HasPrefix(pathQuery, "/v1/kv/") {
		return resp.Header, nil, errNotFound
	}
	if resp.StatusCode/100 != 2 {
		return resp.Header, b, &httpStatusError{method, pathQuery, resp.StatusCode, resp.Header.Get("X-Muster-Error-Code"), strings.TrimSpace(string(b))}
	}
	return resp.Header, b, nil
}

// boolAnswer parses a true/false body, refusing anything else.
func boolAnswer(method, pathQuery string, b []byte) (bool, error) {
	switch strings.TrimSpace(string(b)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%s %s: expected true or false, got %q", method, pathQuery, b)
}

func kvPath(key string, q url.Values) string {
	p := "/v1/kv/" + (&url.URL{Path: key}).EscapedPath()
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p
}

// kvEntry is the subset of Consul's KV JSON the bench reads.
type kvEntry struct {
	Key         string
	Value       []byte
	Flags       uint64
	Session     string
	LockIndex   uint64
	CreateIndex uint64
	ModifyIndex uint64
}

// put writes key; muster answers true.
func (c *musterClient) put(ctx context.Context, key string, value []byte, q url.Values) (bool, error) {
	p := kvPath(key, q)
	_, b, err := c.do(ctx, http.MethodPut, p, value)
	if err != nil {
		return false, err
	}
	return boolAnswer("PUT", p, b)
}

// get reads one key with its metadata. q may add consistent, stale, index
// and wait.
func (c *musterClient) get(ctx context.Context, hc *http.Client, key string, q url.Values) (*kvEntry, uint64, error) {
	p := kvPath(key, q)
	h, b, err := c.doWith(ctx, hc, http.MethodGet, p, nil)
	if err != nil {
		return nil, 0, err
	}
	idx, err := strconv.ParseUint(h.Get("X-Consul-Index"), 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: bad X-Consul-Index %q", p, h.Get("X-Consul-Index"))
	}
	var es []kvEntry
	if err := json.Unmarshal(b, &es); err != nil || len(es) != 1 {
		return nil, 0, fmt.Errorf("GET %s: expected one entry, got %q (%v)", p, b, err)
	}
	return &es[0], idx, nil
}

// list reads every key under prefix.
func (c *musterClient) list(ctx context.Context, prefix string) ([]kvEntry, error) {
	p := kvPath(prefix, url.Values{"recurse": {""}})
	_, b, err := c.do(ctx, http.MethodGet, p, nil)
	if errors.Is(err, errNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var es []kvEntry
	if err := json.Unmarshal(b, &es); err != nil {
		return nil, fmt.Errorf("GET %s: %v", p, err)
	}
	return es, nil
}

// keys lists the key names under prefix.
func (c *musterClient) keys(ctx context.Context, prefix string) ([]string, error) {
	p := kvPath(prefix, url.Values{"keys": {""}})
	_, b, err := c.do(ctx, http.MethodGet, p, nil)
	if errors.Is(err, errNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ks []string
	if err := json.Unmarshal(b, &ks); err != nil {
		return nil, fmt.Errorf("GET %s: %v", p, err)
	}
	return ks, nil
}

// createSession makes a session with no TTL and no lock-delay.
func (c *musterClient) createSession(ctx context.Context, name string) (string, error) {
	body, _ := json.Marshal(map[string]string{"Name": name, "LockDelay": "0s", "Behavior": "release"})
	_, b, err := c.do(ctx, http.MethodPut, "/v1/session/create", body)
	if err != nil {
		return "", err
	}
	var out struct{ ID string }
	if err := json.Unmarshal(b, &out); err != nil || out.ID == "" {
		return "", fmt.Errorf("PUT /v1/session/create: bad answer %q", b)
	}
	return out.ID, nil
}

func (c *musterClient) destroySession(ctx context.Context, id string) error {
	_, _, err := c.do(ctx, http.MethodPut, "/v1/session/destroy/"+id, nil)
	return err
}

// version asks the binary for its version line ("muster v0.1.0",
// "Consul v1.22.7").
func (c *musterClient) version() string {
	out, err := exec.Command(c.bin, "version").Output()
	if err != nil {
		return filepath.Base(c.bin) + " (version unknown)"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// musterKV is the plain KV surface over muster, for the generic workloads.
type musterKV struct {
	c          *musterClient
	consistent bool // add ?consistent to reads
}

func (m musterKV) Put(ctx context.Context, key string, value []byte) error {
	ok, err := m.c.put(ctx, key, value, nil)
	if err == nil && !ok {
		err = fmt.Errorf("PUT %s answered false", kvPath(key, nil))
	}
	return err
}

func (m musterKV) Get(ctx context.Context, key string) ([]byte, error) {
	var q url.Values
	if m.consistent {
		q = url.Values{"consistent": {""}}
	}
	e, _, err := m.c.get(ctx, m.c.hc, key, q)
	if err != nil {
		return nil, err
	}
	return e.Value, nil
}
