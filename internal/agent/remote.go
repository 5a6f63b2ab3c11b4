package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/musterhq/muster/internal/cluster"
	"github.com/musterhq/muster/internal/forward"
	"github.com/musterhq/muster/internal/fsm"
	"github.com/musterhq/muster/internal/httpapi"
	"github.com/musterhq/muster/internal/local"
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
	ctx, cancel := context.WithTimeout(ap.ctx, remoteTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/v1/internal/node-state/"+node, nil)
	if err != nil {
		return nil, err
	}
	data, err := ap.do(req)
	if err != nil {
		return nil, err
	}
	var rows local.NodeRows
	if err := fsm.DecodeBody(data, &rows); err != nil {
		return nil, fmt.Errorf("agent: node state: %w", err)
	}
	return &rows, nil
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
