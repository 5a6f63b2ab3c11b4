package local

import (
	"context"
	"errors"
	"hash/fnv"
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
	node := l.cfg.Node.Node
	var rows *NodeRows
	var err error
	if l.cfg.Catalog != nil {
		rows, err = l.cfg.Catalog(node)
	} else {
		rows, err = StoreRows(l.cfg.Store(), node)
	}
	if err != nil {
		return err
	}
	catSvcs, catChecks := rows.Services, rows.Checks
	if n := rows.Node; n == nil || !nodeEqual(n, &l.cfg.Node) {
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
			l.servicesChangedLocked()
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
// removes what was deleted locally. The Run loop and SyncFull call it (agent
// API calls write just their own entity, with SyncService or SyncCheck).
// Entities are written in parallel, each by syncEntity, which keeps the
// writes of one entity in order, so concurrent calls are safe. A failed write
// does not stop the others; their errors are returned together.
func (l *State) SyncChanges() error {
	l.mu.Lock()
	var todo []entity
	for _, id := range slices.Sorted(maps.Keys(l.deregServices)) {
		todo = append(todo, entity{service: id})
	}
	for _, id := range slices.Sorted(maps.Keys(l.deregChecks)) {
		todo = append(todo, entity{check: id})
	}
	seen := map[entity]bool{}
	for _, id := range slices.Sorted(maps.Keys(l.services)) {
		if !l.services[id].inSync {
			seen[entity{service: id}] = true
			todo = append(todo, entity{service: id})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(l.checks)) {
		if cs := l.checks[id]; !cs.inSync {
			if e := l.entityOfLocked(id); !seen[e] {
				seen[e] = true
				todo = append(todo, e)
			}
		}
	}
	l.mu.Unlock()

	var (
		errMu sync.Mutex
		errs  []error
		wg    sync.WaitGroup
		slots = make(chan struct{}, maxConcurrentSyncWrites)
	)
	for _, e := range todo {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			if err := l.syncEntity(e); err != nil {
				errMu.Lock()
				errs = append(errs, err)
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// entity is what one catalog write covers: a service with all its checks
// (or the service's removal), or a node check (or a check's removal).
// Exactly one field is set.
type entity struct {
	service string
	check   string
}

// entityOfLocked is the entity a check's state is written with: its
// service's, or its own for a node check.
func (l *State) entityOfLocked(checkID string) entity {
	if cs, ok := l.checks[checkID]; ok && cs.hc.ServiceID != "" {
		return entity{service: cs.hc.ServiceID}
	}
	return entity{check: checkID}
}

// SyncService writes one local service with its checks (or its removal)
// to the catalog now, unless it is in sync: the agent endpoints call it so
// that their answer comes after the change is in the catalog. Calls for
// different services run in parallel.
func (l *State) SyncService(id string) error { return l.syncEntity(entity{service: id}) }

// SyncCheck writes one local check (with its service, for a service check)
// or its removal to the catalog now, unless it is in sync.
func (l *State) SyncCheck(id string) error {
	l.mu.Lock()
	e := l.entityOfLocked(id)
	l.mu.Unlock()
	return l.syncEntity(e)
}

// syncEntity writes entity e as the local state has it when the write
// starts. Writes of one entity are serialized (by a striped lock), and each
// takes its snapshot under that lock, so a later write always carries the
// newer state and lands last; writes of different entities run in
// parallel. An entry changed again while the write was in flight stays out
// of sync (its generation moved) for the next write.
func (l *State) syncEntity(e entity) error {
	stripe := &l.stripes[stripeOf(e)]
	stripe.Lock()
	defer stripe.Unlock()

	var (
		reg    *state.Registration
		dereg  *state.Deregistration
		svc    *serviceState
		svcGen uint64
		chks   = map[*checkState]uint64{}
	)
	l.mu.Lock()
	switch {
	case e.service != "" && l.services[e.service] != nil:
		svc = l.services[e.service]
		svcGen = svc.gen
		inSync := svc.inSync
		reg = l.registration(cloneService(svc.svc))
		// A service goes with all its checks, so the catalog never shows
		// it without them (and healthy) for a moment.
		for _, cid := range slices.Sorted(maps.Keys(l.checks)) {
			if cs := l.checks[cid]; cs.hc.ServiceID == e.service {
				chks[cs] = cs.gen
				inSync = inSync && cs.inSync
				hc := *cs.hc
				reg.Checks = append(reg.Checks, &hc)
			}
		}
		if inSync {
			reg = nil
		}
	case e.service != "" && l.deregServices[e.service]:
		dereg = &state.Deregistration{Node: l.cfg.Node.Node, ServiceID: e.service}
	case e.check != "" && l.checks[e.check] != nil:
		cs := l.checks[e.check]
		if !cs.inSync {
			chks[cs] = cs.gen
			hc := *cs.hc
			reg = l.registration(nil, &hc)
		}
	case e.check != "" && l.deregChecks[e.check]:
		dereg = &state.Deregistration{Node: l.cfg.Node.Node, CheckID: e.check}
	}
	l.mu.Unlock()
	if reg == nil && dereg == nil {
		return nil // in sync already
	}

	if err := l.write(reg, dereg); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case dereg != nil && dereg.ServiceID != "":
		// Re-added meanwhile? Then AddService cleared the flag already.
		delete(l.deregServices, dereg.ServiceID)
	case dereg != nil:
		delete(l.deregChecks, dereg.CheckID)
	}
	if svc != nil && svc.gen == svcGen {
		svc.inSync = true
	}
	for cs, gen := range chks {
		if cs.gen == gen {
			cs.inSync = true
		}
	}
	return nil
}

// syncStripes is how many locks serialize the writes of one entity.
const syncStripes = 64

func stripeOf(e entity) int {
	h := fnv.New32a()
	if e.service != "" {
		h.Write([]byte("s\x00" + e.service))
	} else {
		h.Write([]byte("c\x00" + e.check))
	}
	return int(h.Sum32() % syncStripes)
}

// maxConcurrentSyncWrites bounds the Raft writes one SyncChanges has in
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
