package local

import (
	"context"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"time"

	"github.com/musterhq/muster/internal/fsm"
	"github.com/musterhq/muster/internal/state"
)

// Anti-entropy. The agent's local services and checks are the truth for its
// node: SyncChanges pushes what changed locally; SyncFull also compares the
// catalog with the local state and repairs drift, removing what the agent
// does not have (a service put on this node through /v1/catalog/register is
// removed at the next full sync, as in Consul) and re-registering what the
// catalog lost or changed. The node's serfHealth check and the server's
// consul service belong to the agent itself and are left alone.

// Applier writes through the write path; *cluster.Cluster is one.
type Applier interface {
	Apply(t fsm.MessageType, body any) (any, uint64, error)
}

// DefaultFullSyncInterval is how often Run compares the whole node with the
// catalog (Consul's one minute at small cluster sizes).
const DefaultFullSyncInterval = time.Minute

// Run syncs until ctx ends: the changes each time the state asks for it,
// everything every fullEvery (plus up to 1/16 jitter) and whenever
// ResyncAll is called. A failed sync is retried after a second. It also
// reaps services whose checks stayed critical too long, every second.
func (l *State) Run(ctx context.Context, fullEvery time.Duration) {
	full := time.NewTimer(0) // a full sync at start
	defer full.Stop()
	reap := time.NewTicker(time.Second)
	defer reap.Stop()
	var retry <-chan time.Time
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-l.triggerCh:
			err = l.SyncChanges()
		case <-retry:
			retry = nil
			err = l.SyncChanges()
		case <-full.C:
			err = l.SyncFull()
			full.Reset(fullEvery + rand.N(fullEvery/16+1))
		case now := <-reap.C:
			l.ReapCritical(now)
		}
		if err != nil {
			l.cfg.Logger.Warn("local: sync with the catalog failed; retrying", "err", err)
			retry = time.After(time.Second)
		}
	}
}

// ResyncAll marks every local service and check out of sync, so the next
// sync writes them all (after a snapshot restore or a leader change).
func (l *State) ResyncAll() {
	l.mu.Lock()
	for _, ss := range l.services {
		ss.inSync = false
	}
	for _, cs := range l.checks {
		cs.inSync = false
	}
	l.mu.Unlock()
	l.trigger()
}

// SyncFull compares the node's catalog entries with the local state, marks
// the differences, and pushes them.
func (l *State) SyncFull() error {
	st := l.cfg.Store()
	node := l.cfg.Node.Node
	_, _, catSvcs, err := st.NodeServices(nil, node)
	if err != nil {
		return err
	}
	_, catChecks, err := st.NodeChecks(nil, node)
	if err != nil {
		return err
	}
	l.mu.Lock()
	seen := map[string]bool{}
	for _, cs := range catSvcs {
		seen[cs.ID] = true
		ss, ok := l.services[cs.ID]
		switch {
		case !ok && cs.ID != "consul":
			l.deregServices[cs.ID] = true
		case ok && !serviceEqual(ss.svc, cs):
			ss.inSync = false
		}
	}
	for id, ss := range l.services {
		if !seen[id] {
			ss.inSync = false
		}
	}
	clear(seen)
	for _, cc := range catChecks {
		seen[cc.CheckID] = true
		cs, ok := l.checks[cc.CheckID]
		switch {
		case !ok && cc.CheckID != state.SerfCheckID:
			l.deregChecks[cc.CheckID] = true
		case ok && !checkEqual(cs.hc, cc):
			cs.inSync = false
		}
	}
	for id, cs := range l.checks {
		if !seen[id] {
			cs.inSync = false
		}
	}
	l.mu.Unlock()
	return l.SyncChanges()
}

// SyncChanges writes every out-of-sync service and check to the catalog and
// removes what was deleted locally. An entry changed again while its write
// was in flight stays out of sync for the next round. It may run from
// several goroutines at once (the Run loop, an API call that waits for its
// change to reach the catalog): a write sent twice changes nothing the
// second time.
func (l *State) SyncChanges() error {
	type pending struct {
		reg   *state.Registration
		dereg *state.Deregistration
		svc   *serviceState
		svcAt *state.Service
		chks  map[*checkState]*state.HealthCheck
	}
	var work []pending
	l.mu.Lock()
	for _, id := range slices.Sorted(maps.Keys(l.deregServices)) {
		work = append(work, pending{dereg: &state.Deregistration{Node: l.cfg.Node.Node, ServiceID: id}})
	}
	for _, id := range slices.Sorted(maps.Keys(l.deregChecks)) {
		work = append(work, pending{dereg: &state.Deregistration{Node: l.cfg.Node.Node, CheckID: id}})
	}
	included := map[*checkState]bool{}
	for _, id := range slices.Sorted(maps.Keys(l.services)) {
		ss := l.services[id]
		if ss.inSync {
			continue
		}
		p := pending{svc: ss, svcAt: ss.svc, chks: map[*checkState]*state.HealthCheck{},
			reg: &state.Registration{Node: l.cfg.Node, Service: cloneService(ss.svc)}}
		// A service goes with all its checks, so the catalog never shows
		// it without them (and healthy) for a moment.
		for _, cid := range slices.Sorted(maps.Keys(l.checks)) {
			if cs := l.checks[cid]; cs.hc.ServiceID == id {
				p.chks[cs] = cs.hc
				hc := *cs.hc
				p.reg.Checks = append(p.reg.Checks, &hc)
				included[cs] = true
			}
		}
		work = append(work, p)
	}
	for _, id := range slices.Sorted(maps.Keys(l.checks)) {
		cs := l.checks[id]
		if cs.inSync || included[cs] {
			continue
		}
		hc := *cs.hc
		work = append(work, pending{chks: map[*checkState]*state.HealthCheck{cs: cs.hc},
			reg: &state.Registration{Node: l.cfg.Node, Checks: []*state.HealthCheck{&hc}}})
	}
	l.mu.Unlock()

	for _, p := range work {
		var err error
		if p.dereg != nil {
			err = apply(l.cfg.Applier, fsm.DeregisterType, p.dereg)
		} else {
			err = apply(l.cfg.Applier, fsm.RegisterRequestType, p.reg)
		}
		if err != nil {
			return err
		}
		switch {
		case p.dereg != nil && p.dereg.ServiceID != "":
			l.cfg.Logger.Info("local: deregistered service", "service", p.dereg.ServiceID)
		case p.dereg != nil:
			l.cfg.Logger.Debug("local: deregistered check", "check", p.dereg.CheckID)
		case p.reg.Service != nil:
			l.cfg.Logger.Info("local: synced service", "service", p.reg.Service.ID)
		default:
			l.cfg.Logger.Debug("local: synced check", "check", p.reg.Checks[0].CheckID)
		}
		l.mu.Lock()
		switch {
		case p.dereg != nil && p.dereg.ServiceID != "":
			delete(l.deregServices, p.dereg.ServiceID)
		case p.dereg != nil:
			delete(l.deregChecks, p.dereg.CheckID)
		}
		if p.svc != nil && p.svc.svc == p.svcAt {
			p.svc.inSync = true
		}
		for cs, at := range p.chks {
			if cs.hc == at {
				cs.inSync = true
			}
		}
		l.mu.Unlock()
	}
	return nil
}

func apply(ap Applier, t fsm.MessageType, body any) error {
	out, _, err := ap.Apply(t, body)
	if err != nil {
		return err
	}
	if err, ok := out.(error); ok {
		return err
	}
	return nil
}

// serviceEqual compares what the agent registers with what the catalog
// holds, ignoring indexes and nil-versus-empty differences.
func serviceEqual(a, b *state.Service) bool {
	return a.Kind == b.Kind && a.ID == b.ID && a.Service == b.Service && slices.Equal(a.Tags, b.Tags) &&
		maps.Equal(a.Meta, b.Meta) && a.Port == b.Port && a.Address == b.Address &&
		maps.Equal(a.TaggedAddresses, b.TaggedAddresses) && a.Weights == b.Weights &&
		a.EnableTagOverride == b.EnableTagOverride && a.SocketPath == b.SocketPath &&
		slices.Equal(a.Ports, b.Ports) && (a.Locality == nil) == (b.Locality == nil) &&
		(a.Locality == nil || *a.Locality == *b.Locality)
}

func checkEqual(a, b *state.HealthCheck) bool {
	return a.CheckID == b.CheckID && a.Name == b.Name && a.Status == b.Status && a.Notes == b.Notes &&
		a.Output == b.Output && a.ServiceID == b.ServiceID && a.ServiceName == b.ServiceName &&
		slices.Equal(a.ServiceTags, b.ServiceTags) && a.Type == b.Type &&
		reflect.DeepEqual(a.Definition, b.Definition)
}
