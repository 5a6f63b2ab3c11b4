// Package adopt is the leader's care for the checks of nodes whose agent is
// gone. An agent runs its own node's checks; when the agent is not alive
// (failed, left, or never an agent: a node registered through the catalog)
// nobody runs them, and Consul leaves them as they were. The leader adopts
// two kinds:
//
//   - cluster-owned checks (Definition.Owner "cluster"; HTTP, TCP, UDP or
//     gRPC): the leader runs them itself and writes their status through
//     Raft, so a healthy service outlives the agent that registered it (the
//     seed's open problem);
//   - any other service check with DeregisterCriticalServiceAfter on a node
//     whose serfHealth is critical: its service is deregistered once that
//     long has passed, as its agent would have done had it lived.
//
// A cluster-owned check that goes critical is reaped the same way, after
// its DeregisterCriticalServiceAfter. When the agent comes back, the
// adopter lets go and the agent's anti-entropy takes over again. A new
// leader adopts afresh: every deadline restarts from the moment it took
// office, as Consul restarts session TTLs.
package adopt

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/musterhq/muster/internal/checks"
	"github.com/musterhq/muster/internal/fsm"
	"github.com/musterhq/muster/internal/state"
)

// Config is what an Adopter needs from the leader.
type Config struct {
	// State returns the current state store (it changes on a restore).
	State func() *state.Store
	// Apply applies a command through the leader's Raft and returns the
	// FSM's refusal as an error. It is called from check goroutines.
	Apply func(t fsm.MessageType, body any) error
	// Alive reports whether a node's agent is alive in the gossip pool.
	Alive func(node string) bool
	// Checks are the options adopted checks run with.
	Checks checks.Options
	Logger *slog.Logger
}

// Adopter runs and reaps adopted checks while its Run lasts.
type Adopter struct {
	cfg  Config
	wake chan struct{}

	mu      sync.Mutex
	adopted map[key]*adoptedCheck // guarded by mu
}

type key struct{ node, check string }

// adoptedCheck is one check the leader has taken over.
type adoptedCheck struct {
	row      *state.HealthCheck // the catalog row as last written or seen
	runner   *checks.Runner     // nil: reap only (not cluster-owned)
	deadline time.Duration      // DeregisterCriticalServiceAfter; 0: never reaped
	since    time.Time          // start of the reap clock; zero while not critical
}

// New returns an Adopter; Run starts it.
func New(cfg Config) *Adopter {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Adopter{cfg: cfg, wake: make(chan struct{}, 1), adopted: map[key]*adoptedCheck{}}
}

// Wake makes a running Adopter look at the catalog and the pool again at
// once: a member changed state. It never blocks.
func (a *Adopter) Wake() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Run adopts and releases checks as the catalog and the pool change, until
// ctx ends (leadership lost); then it stops every adopted check and
// returns. Call it once per term of office.
func (a *Adopter) Run(ctx context.Context) {
	defer a.releaseAll()
	for {
		ws := memdb.NewWatchSet()
		next, err := a.sync(ws, time.Now())
		if err != nil {
			a.cfg.Logger.Warn("adopt: reading the catalog failed", "err", err)
		}
		wait := time.Second // a pool change without a catalog change is also caught
		if next > 0 && next < wait {
			wait = next
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		select {
		case <-a.wake:
		case <-ws.WatchCh(wctx):
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
	}
}

// sync brings the adopted set in line with the catalog, reaps what is
// due, and returns how long until the next reap is due (0: none).
func (a *Adopter) sync(ws memdb.WatchSet, now time.Time) (time.Duration, error) {
	_, all, err := a.cfg.State().ChecksInState(ws, "any")
	if err != nil {
		return 0, err
	}
	agentDown := map[string]bool{} // nodes whose serfHealth is critical
	for _, c := range all {
		if c.CheckID == state.SerfCheckID && c.Status == state.HealthCritical {
			agentDown[c.Node] = true
		}
	}
	// Alive walks the pool: ask once per node, not once per check.
	alive := map[string]bool{}
	isAlive := func(node string) bool {
		v, ok := alive[node]
		if !ok {
			v = a.cfg.Alive(node)
			alive[node] = v
		}
		return v
	}
	want := map[key]*state.HealthCheck{}
	for _, c := range all {
		if c.CheckID == state.SerfCheckID || isAlive(c.Node) {
			continue
		}
		owned := c.Definition.Owner == state.OwnerCluster
		reapable := c.ServiceID != "" && c.Definition.DeregisterCriticalServiceAfter > 0 && agentDown[c.Node]
		if owned || reapable {
			want[key{c.Node, c.CheckID}] = c
		}
	}

	var stop []*checks.Runner
	var reap []*state.HealthCheck
	var next time.Duration
	a.mu.Lock()
	for k, ad := range a.adopted {
		if c, ok := want[k]; !ok || !reflect.DeepEqual(c.Definition, ad.row.Definition) {
			stop = append(stop, ad.runner)
			delete(a.adopted, k)
		}
	}
	for k, c := range want {
		ad, ok := a.adopted[k]
		if !ok {
			ad = a.adoptLocked(k, c, now)
		} else if c.ModifyIndex > ad.row.ModifyIndex {
			ad.row = c // written since: by us, or by an API call
		}
		if ad.deadline <= 0 || ad.since.IsZero() {
			continue
		}
		if left := ad.deadline - now.Sub(ad.since); left <= 0 {
			reap = append(reap, ad.row)
			stop = append(stop, ad.runner)
			delete(a.adopted, k)
		} else if next == 0 || left < next {
			next = left
		}
	}
	a.mu.Unlock()

	for _, r := range stop {
		if r != nil {
			r.Stop()
		}
	}
	for _, c := range reap {
		a.cfg.Logger.Info("adopt: deregistering a service critical past its deregister_critical_service_after",
			"node", c.Node, "service", c.ServiceID, "check", c.CheckID)
		if err := a.cfg.Apply(fsm.DeregisterType, &state.Deregistration{Node: c.Node, ServiceID: c.ServiceID}); err != nil {
			a.cfg.Logger.Warn("adopt: deregistering failed", "node", c.Node, "service", c.ServiceID, "err", err)
		}
	}
	return next, nil
}

// adoptLocked takes c over: a cluster-owned check starts running here; a
// check only to be reaped starts its clock (its agent is gone, so it is as
// good as critical).
func (a *Adopter) adoptLocked(k key, c *state.HealthCheck, now time.Time) *adoptedCheck {
	ad := &adoptedCheck{row: c, deadline: time.Duration(c.Definition.DeregisterCriticalServiceAfter)}
	a.adopted[k] = ad
	if c.Definition.Owner != state.OwnerCluster {
		ad.since = now
		a.cfg.Logger.Info("adopt: the agent of a node is gone; its service will be deregistered unless it returns",
			"node", k.node, "service", c.ServiceID, "after", ad.deadline)
		return ad
	}
	if c.Status == state.HealthCritical {
		ad.since = now
	}
	r, err := checks.Start(specOf(c), checks.NotifyFunc(func(_, status, output string) {
		a.update(k, status, output)
	}), a.cfg.Checks)
	if err != nil {
		// A definition the agent accepted but this server cannot run:
		// say so on the check itself.
		a.cfg.Logger.Warn("adopt: cannot run a cluster-owned check", "node", k.node, "check", k.check, "err", err)
		go a.update(k, state.HealthCritical, fmt.Sprintf("muster: the cluster cannot run this check: %v", err))
		return ad
	}
	a.cfg.Logger.Info("adopt: running a cluster-owned check while its agent is gone", "node", k.node, "check", k.check)
	ad.runner = r
	return ad
}

// update is an adopted check's result: a changed status or output is
// written through Raft. It runs on the check's goroutine.
func (a *Adopter) update(k key, status, output string) {
	a.mu.Lock()
	ad, ok := a.adopted[k]
	if !ok || (ad.row.Status == status && ad.row.Output == output) {
		a.mu.Unlock()
		return
	}
	row := *ad.row
	row.Status, row.Output = status, output
	if status != state.HealthCritical {
		ad.since = time.Time{}
	} else if ad.row.Status != state.HealthCritical || ad.since.IsZero() {
		ad.since = time.Now()
	}
	ad.row = &row
	a.mu.Unlock()
	err := a.cfg.Apply(fsm.RegisterRequestType, &fsm.RegisterRequest{
		Node: state.Node{Node: k.node}, SkipNodeUpdate: true, Checks: []*state.HealthCheck{&row},
	})
	if err != nil {
		a.cfg.Logger.Warn("adopt: writing a check's status failed", "node", k.node, "check", k.check, "err", err)
	}
	a.Wake() // a reap deadline may have moved
}

// releaseAll stops every adopted check (leadership lost).
func (a *Adopter) releaseAll() {
	a.mu.Lock()
	all := a.adopted
	a.adopted = map[key]*adoptedCheck{}
	a.mu.Unlock()
	for _, ad := range all {
		if ad.runner != nil {
			ad.runner.Stop()
		}
	}
}

// specOf is the runner spec of a cluster-owned check's stored definition.
func specOf(c *state.HealthCheck) checks.Spec {
	d := c.Definition
	return checks.Spec{
		ID: c.CheckID, HTTP: d.HTTP, Method: d.Method, Header: d.Header, Body: d.Body,
		TLSSkipVerify: d.TLSSkipVerify, TLSServerName: d.TLSServerName,
		TCP: d.TCP, UDP: d.UDP, GRPC: d.GRPC, GRPCUseTLS: d.GRPCUseTLS,
		Interval: time.Duration(d.Interval), Timeout: time.Duration(d.Timeout),
	}
}
