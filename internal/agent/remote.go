package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/musterhq/muster/internal/cluster"
	"github.com/musterhq/muster/internal/dns"
	"github.com/musterhq/muster/internal/forward"
	"github.com/musterhq/muster/internal/fsm"
	"github.com/musterhq/muster/internal/httpapi"
	"github.com/musterhq/muster/internal/local"
	"github.com/musterhq/muster/internal/state"
)

// remoteTimeout bounds one anti-entropy write or read through another
// agent (the forwarder holds it while there is no leader).
const remoteTimeout = 15 * time.Second

// applier is the write path of the agent's anti-entropy: Raft directly on
// the leader, else the leader's /v1/internal/apply through the forwarder
// (a follower sends it to the leader, a client agent to a server).
type applier struct {
	cluster *cluster.Cluster // nil on client agents
	fwd     *forward.Handler
	// ctx ends when the agent stops, so no call outlives it.
	ctx context.Context
}

// Apply implements local.Applier. An FSM refusal comes back as the
// response (an error value), as from cluster.Apply.
func (ap applier) Apply(t fsm.MessageType, body any) (any, uint64, error) {
	if ap.cluster != nil && ap.cluster.IsLeader() {
		out, idx, err := ap.cluster.Apply(t, body)
		if !errors.Is(err, cluster.ErrNotLeader) {
			return out, idx, err
		}
	}
	b, err := fsm.EncodeBody(body)
	if err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithTimeout(ap.ctx, remoteTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut,
		"/v1/internal/apply/"+strconv.Itoa(int(t)), bytes.NewReader(b))
	if err != nil {
		return nil, 0, err
	}
	data, err := ap.do(req)
	if errors.Is(err, forward.ErrLeaderNow) {
		return ap.cluster.Apply(t, body) // elected while waiting
	}
	if err != nil {
		return nil, 0, err
	}
	var res httpapi.ApplyResult
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, 0, fmt.Errorf("agent: apply answer: %w", err)
	}
	if res.Error != "" {
		return errors.New(res.Error), res.Index, nil
	}
	return nil, res.Index, nil
}

// catalog reads this node's catalog rows from a server, for a client
// agent's full sync.
func (ap applier) catalog(node string) (*local.NodeRows, error) {
	var rows local.NodeRows
	if err := ap.get("/v1/internal/node-state/"+node, remoteTimeout, &rows); err != nil {
		return nil, err
	}
	return &rows, nil
}

// get reads path from a server through the forwarder, within timeout, and
// decodes its msgpack answer into v.
func (ap applier) get(path string, timeout time.Duration, v any) error {
	ctx, cancel := context.WithTimeout(ap.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	data, err := ap.do(req)
	if err != nil {
		return err
	}
	if err := fsm.DecodeBody(data, v); err != nil {
		return fmt.Errorf("agent: %s: %w", req.URL.Path, err)
	}
	return nil
}

// dnsTimeout bounds one DNS read from a server: a resolver retries after a
// few seconds, and a SERVFAIL beats no answer.
const dnsTimeout = 2 * time.Second

// remoteCatalog is a client agent's DNS catalog: each read asks a server
// (any of them; a stale read, served from that server's own store, as
// Consul's DNS reads by default) through the forwarder. A read that
// fails, or takes longer than dnsTimeout, answers SERVFAIL.
type remoteCatalog struct{ ap applier }

// serverCatalog returns the DNS catalog of a client agent.
func (a *Agent) serverCatalog() dns.Catalog {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-a.stop; cancel() }()
	return remoteCatalog{applier{fwd: a.fwd, ctx: ctx}}
}

// Node implements dns.Catalog.
func (c remoteCatalog) Node(name string) (*state.Node, error) {
	var n *state.Node
	if err := c.ap.get("/v1/internal/dns/node/"+url.PathEscape(name)+"?stale", dnsTimeout, &n); err != nil {
		return nil, err
	}
	return n, nil
}

// ServiceInstances implements dns.Catalog.
func (c remoteCatalog) ServiceInstances(service string) ([]state.ServiceInstance, error) {
	var insts []state.ServiceInstance
	if err := c.ap.get("/v1/internal/dns/service/"+url.PathEscape(service)+"?stale", dnsTimeout, &insts); err != nil {
		return nil, err
	}
	return insts, nil
}

// do forwards req and returns the body of a 200 answer.
func (ap applier) do(req *http.Request) ([]byte, error) {
	resp, err := ap.fwd.Forward(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("agent: %s: %w", req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("agent: %s: %s: %s", req.URL.Path, resp.Status, bytes.TrimSpace(data))
	}
	return data, nil
}

// internalGet reads JSON from another server's port directly (no
// forwarding): bootstrap asks each server for its own view.
func (a *Agent) internalGet(ctx context.Context, addr, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("agent: %s%s: %s", addr, path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
