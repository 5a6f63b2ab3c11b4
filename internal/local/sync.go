package local

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
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
		case <-l.fullCh:
			err = l.SyncFull()
		case now := <-reap.C:
			l.ReapCritical(now)
		}
		if err != nil {
			l.cfg.Logger.Warn("local: sync with the catalog failed; retrying", "err", err)
			retry = time.After(time.Second)
		}
	}
}

// ResyncAll marks every local service and check out of sync and asks for
// a full sync (after a snapshot restore, which may have brought back what
// the agent removed, or lost what it added). A write in flight meanwhile
// does not count as syncing them.
func (l *State) ResyncAll() {
	l.mu.Lock()
	for _, ss := range l.services {
		ss.changed()
	}
	for _, cs := range l.checks {
		cs.changed()
	}
	l.mu.Unlock()
	select {
	case l.fullCh <- struct{}{}:
	default:
	}
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
	if n := st.Node(node); n == nil || !nodeEqual(n, &l.cfg.Node) {
		// The node's own row drifted (or vanished): write it back.
		if err := apply(l.cfg.Applier, fsm.RegisterRequestType, &state.Registration{Node: l.cfg.Node}); err != nil {
			return err
		}
	}
	l.mu.Lock()
	seen := map[string]bool{}
	for _, cs := range catSvcs {
		seen[cs.ID] = true
		ss, ok := l.services[cs.ID]
		if ok && ss.svc.EnableTagOverride && !slices.Equal(ss.svc.Tags, cs.Tags) {
			// Tags changed in the catalog win over the agent's (Consul's
			// EnableTagOverride), and the agent's checks carry them.
			svc := cloneService(ss.svc)
			svc.Tags = slices.Clone(cs.Tags)
			ss.svc = svc
			for _, c := range l.checks {
				if c.hc.ServiceID == svc.ID {
					hc := *c.hc
					hc.ServiceTags = svc.Tags
					c.hc = &hc
					c.changed()
				}
			}
		}
		switch {
		case !ok && cs.ID != "consul":
			l.deregServices[cs.ID] = true
		case ok && !serviceEqual(ss.svc, cs):
			ss.changed()
		}
	}
	for id, ss := range l.services {
		if !seen[id] {
			ss.changed()
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
			cs.changed()
		}
	}
	for id, cs := range l.checks {
		if !seen[id] {
			cs.changed()
		}
	}
	l.mu.Unlock()
	return l.SyncChanges()
}

// SyncChanges writes every out-of-sync service and check to the catalog and
// removes what was deleted locally, and returns once a round that started
// after the call has finished (so the caller's own change is written).
// Rounds run one at a time (the Run loop and API calls that wait for their
// change both call it), so writes land in the order their snapshots were
// taken; callers arriving during a round share the next one. An entry
// changed again while its write was in flight stays out of sync for the
// next round. A failed write does not stop the others; their errors are
// returned together.
func (l *State) SyncChanges() error {
	r := &l.sync
	r.mu.Lock()
	r.called++
	me := r.called
	for r.running && r.covered < me {
		r.cond.Wait()
	}
	if r.covered >= me {
		err := r.err
		r.mu.Unlock()
		return err
	}
	r.running = true
	covers := r.called // every call so far has its change in the local state
	r.mu.Unlock()

	err := errors.New("local: sync round did not finish")
	defer func() { // even if the round panics, later callers must not wait forever
		r.mu.Lock()
		r.running, r.covered, r.err = false, covers, err
		r.cond.Broadcast()
		r.mu.Unlock()
	}()
	err = l.syncRound()
	return err
}

// syncRound writes the pending work of one round. The writes concern
// distinct services and checks, so they go to Raft together (Raft groups
// them into few log batches) and are accounted for as each lands.
func (l *State) syncRound() error {
	type pending struct {
		reg    *state.Registration
		dereg  *state.Deregistration
		svc    *serviceState
		svcGen uint64
		chks   map[*checkState]uint64
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
		p := pending{svc: ss, svcGen: ss.gen, chks: map[*checkState]uint64{},
			reg: l.registration(cloneService(ss.svc))}
		// A service goes with all its checks, so the catalog never shows
		// it without them (and healthy) for a moment.
		for _, cid := range slices.Sorted(maps.Keys(l.checks)) {
			if cs := l.checks[cid]; cs.hc.ServiceID == id {
				p.chks[cs] = cs.gen
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
		p := pending{chks: map[*checkState]uint64{cs: cs.gen},
			reg: l.registration(nil, &hc)}
		// A service check goes with its service, in case the catalog lost
		// it (Consul's syncCheck does the same).
		if ss, ok := l.services[hc.ServiceID]; ok {
			p.reg.Service = cloneService(ss.svc)
		}
		work = append(work, p)
	}
	l.mu.Unlock()

	var (
		errMu sync.Mutex
		errs  []error
		wg    sync.WaitGroup
		slots = make(chan struct{}, maxConcurrentSyncWrites)
	)
	for _, p := range work {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			if err := l.write(p.reg, p.dereg); err != nil {
				errMu.Lock()
				errs = append(errs, err)
				errMu.Unlock()
				return
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			switch {
			case p.dereg != nil && p.dereg.ServiceID != "":
				delete(l.deregServices, p.dereg.ServiceID)
			case p.dereg != nil:
				delete(l.deregChecks, p.dereg.CheckID)
			}
			if p.svc != nil && p.svc.gen == p.svcGen {
				p.svc.inSync = true
			}
			for cs, gen := range p.chks {
				if cs.gen == gen {
					cs.inSync = true
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// maxConcurrentSyncWrites bounds the Raft writes one sync round has in
// flight.
const maxConcurrentSyncWrites = 64

// write applies one registration or deregistration and logs it.
func (l *State) write(reg *state.Registration, dereg *state.Deregistration) error {
	var err error
	if dereg != nil {
		err = apply(l.cfg.Applier, fsm.DeregisterType, dereg)
	} else {
		err = apply(l.cfg.Applier, fsm.RegisterRequestType, reg)
	}
	if err != nil {
		return err
	}
	switch {
	case dereg != nil && dereg.ServiceID != "":
		l.cfg.Logger.Info("local: deregistered service", "service", dereg.ServiceID)
	case dereg != nil:
		l.cfg.Logger.Debug("local: deregistered check", "check", dereg.CheckID)
	case reg.Service != nil:
		l.cfg.Logger.Info("local: synced service", "service", reg.Service.ID)
	default:
		l.cfg.Logger.Debug("local: synced check", "check", reg.Checks[0].CheckID)
	}
	return nil
}

// registration is a write of a service and checks on this node. The node
// itself is left as the catalog has it (SkipNodeUpdate: the agent
// registers its node when it leads and a full sync repairs it), or created
// from ours if missing, which keeps each write small.
func (l *State) registration(svc *state.Service, checks ...*state.HealthCheck) *state.Registration {
	return &state.Registration{Node: l.cfg.Node, SkipNodeUpdate: true, Service: svc, Checks: checks}
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

// nodeEqual compares the agent's node with the catalog's row.
func nodeEqual(a, b *state.Node) bool {
	return a.ID == b.ID && a.Node == b.Node && a.Address == b.Address && a.Datacenter == b.Datacenter &&
		maps.Equal(a.TaggedAddresses, b.TaggedAddresses) && maps.Equal(a.Meta, b.Meta)
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
