// Package local holds an agent's own services and checks, the truth for its
// node in the catalog, as Consul's agent/local package does. It runs the
// checks (package checks), turns their results into check states, and keeps
// the catalog in step through the write path (anti-entropy, sync.go).
//
// The HTTP agent endpoints and config-file service definitions change a
// State; nothing here writes the catalog directly except the syncer.
package local

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/musterhq/muster/internal/checks"
	"github.com/musterhq/muster/internal/state"
)

// Errors callers match with errors.Is.
var (
	ErrUnknownService = errors.New("local: unknown service")
	ErrUnknownCheck   = errors.New("local: unknown check")
)

// Maintenance check IDs and names, Consul's.
const (
	NodeMaintenanceID             = "_node_maintenance"
	serviceMaintenancePfx         = "_service_maintenance:"
	defaultMaintenanceNote        = "Maintenance mode is enabled for this node, but no reason was provided. This is a default message."
	defaultServiceMaintenanceNote = "Maintenance mode is enabled for this service, but no reason was provided. This is a default message."
)

// Config is what a State needs from its agent.
type Config struct {
	// Node is the agent's catalog node, sent with every registration.
	Node state.Node
	// Locality is given to services registered without one.
	Locality *state.Locality
	// Applier writes the syncs through the write path.
	Applier Applier
	// Checks are the settings of every check runner; its
	// EnableScriptChecks is set per check from the two switches below.
	Checks checks.Options
	// ScriptChecks allows script checks from any source (Consul's
	// enable_script_checks); LocalScriptChecks only from config files
	// (enable_local_script_checks), never from the HTTP API.
	ScriptChecks, LocalScriptChecks bool
	// Store returns the current state store (it changes on a snapshot
	// restore); alias checks and full syncs read it.
	Store func() *state.Store
	// Catalog, when set, is where full syncs read the node's catalog rows
	// instead of Store: a client agent asks a server.
	Catalog func(node string) (*NodeRows, error)
	// Persist, when set, keeps API registrations in the data directory;
	// ReapCritical forgets the services it removes.
	Persist *Persisted
	Logger  *slog.Logger
}

// NodeRows are a node's catalog entries, as a full sync compares them.
type NodeRows struct {
	Node     *state.Node // nil when the node is not registered
	Services []*state.Service
	Checks   []*state.HealthCheck
}

// StoreRows reads a node's rows from a state store.
func StoreRows(st *state.Store, node string) (*NodeRows, error) {
	_, _, svcs, err := st.NodeServices(nil, node)
	if err != nil {
		return nil, err
	}
	_, checks, err := st.NodeChecks(nil, node)
	if err != nil {
		return nil, err
	}
	return &NodeRows{Node: st.Node(node), Services: svcs, Checks: checks}, nil
}

// State is the agent's local services and checks. Its methods are safe for
// concurrent use.
type State struct {
	cfg Config

	mu       sync.Mutex
	services map[string]*serviceState // by ID
	checks   map[string]*checkState   // by CheckID
	// deregister lists catalog services and checks of this node that the
	// agent does not have: the next sync removes them.
	deregServices map[string]bool
	deregChecks   map[string]bool

	// triggerCh asks the syncer to push changes now, fullCh to compare
	// everything with the catalog (capacity 1 each).
	triggerCh, fullCh chan struct{}
	// servicesCh is closed (and replaced) when a local service changes,
	// for readers blocking on a service's ContentHash; guarded by mu.
	servicesCh chan struct{}
	// stripes serialize the writes of one entity (see syncEntity).
	stripes [syncStripes]sync.Mutex
}

// serviceState and checkState are guarded by State.mu. gen counts local
// changes; a sync marks an entry in sync only if gen is still the one it
// wrote, so a change made while a write was in flight is written again.
type serviceState struct {
	svc    *state.Service
	inSync bool
	gen    uint64
}

func (ss *serviceState) changed() { ss.inSync = false; ss.gen++ }

type checkState struct {
	hc              *state.HealthCheck // as it should appear in the catalog
	runner          *checks.Runner     // set before publishing; nil for alias and maintenance checks
	alias           *aliasWatch        // set before publishing; alias checks only
	deregisterAfter time.Duration
	criticalSince   time.Time // zero unless critical
	inSync          bool
	gen             uint64
}

func (cs *checkState) changed() { cs.inSync = false; cs.gen++ }

// New returns an empty State.
func New(cfg Config) *State {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &State{
		cfg: cfg, services: map[string]*serviceState{}, checks: map[string]*checkState{},
		deregServices: map[string]bool{}, deregChecks: map[string]bool{},
		triggerCh: make(chan struct{}, 1), fullCh: make(chan struct{}, 1),
	}
	l.servicesCh = make(chan struct{})
	return l
}

// ServicesChanged returns a channel closed at the next change of any local
// service (added, replaced, removed, its tags taken from the catalog).
func (l *State) ServicesChanged() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.servicesCh
}

func (l *State) servicesChangedLocked() {
	close(l.servicesCh)
	l.servicesCh = make(chan struct{})
}

// AddService adds or replaces a service with its checks, all or nothing:
// every check is started before any of it is published, so a refused
// definition leaves nothing behind and the syncer never sees the service
// without its checks. With replaceChecks, checks of the service that the
// new definition does not name are removed (Consul's
// ?replace-existing-checks); without it they stay. A check re-registered
// with the same definition keeps its status.
func (l *State) AddService(svc *state.Service, chks []*Check, replaceChecks bool) error {
	svc = cloneService(svc)
	svc.Node = l.cfg.Node.Node
	if svc.Locality == nil {
		svc.Locality = l.cfg.Locality
	}
	started, err := l.startChecks(chks)
	if err != nil {
		return err
	}
	l.mu.Lock()
	var stop []*checkState
	if replaceChecks {
		keep := map[string]bool{}
		for _, c := range chks {
			keep[c.Health.CheckID] = true
		}
		for id, cs := range l.checks {
			if cs.hc.ServiceID == svc.ID && !keep[id] {
				stop = append(stop, cs)
				l.removeCheckLocked(id)
			}
		}
	}
	l.services[svc.ID] = &serviceState{svc: svc}
	l.servicesChangedLocked()
	delete(l.deregServices, svc.ID)
	// Checks of the service carry its name and tags.
	for _, cs := range l.checks {
		if cs.hc.ServiceID == svc.ID {
			hc := *cs.hc
			hc.ServiceName, hc.ServiceTags = svc.Service, svc.Tags
			cs.hc = &hc
			cs.changed()
		}
	}
	for _, cs := range started {
		stop = append(stop, l.publishCheckLocked(cs)...)
	}
	l.mu.Unlock()
	stopAll(stop)
	l.trigger()
	return nil
}

// startChecks builds and starts a runner (or alias watch) for each check
// without publishing any. On an error it stops those it started. Runners
// never notify from Start, and a result that arrives before a check is
// published is dropped by update, so starting first is safe.
func (l *State) startChecks(chks []*Check) ([]*checkState, error) {
	var out []*checkState
	for _, c := range chks {
		hc := *c.Health
		hc.Node = l.cfg.Node.Node
		cs := &checkState{hc: &hc, deregisterAfter: c.DeregisterAfter}
		notify := checks.NotifyFunc(func(_, status, output string) { l.update(cs, status, output) })
		switch {
		case c.Spec != nil:
			opts := l.cfg.Checks
			opts.EnableScriptChecks = l.cfg.ScriptChecks || c.FromConfig && l.cfg.LocalScriptChecks
			r, err := checks.Start(*c.Spec, notify, opts)
			if err != nil {
				stopAll(out)
				return nil, err
			}
			cs.runner = r
		case hc.Definition.AliasService != "" || hc.Definition.AliasNode != "":
			cs.alias = startAlias(l.cfg, &hc, notify)
		}
		out = append(out, cs)
	}
	return out, nil
}

// publishCheckLocked puts a started check in place, taking its service's
// name and tags and, when it replaces a check with the same definition,
// that check's status. It returns the replaced check to stop.
func (l *State) publishCheckLocked(cs *checkState) []*checkState {
	hc := cs.hc
	if ss, ok := l.services[hc.ServiceID]; ok {
		hc.ServiceName, hc.ServiceTags = ss.svc.Service, ss.svc.Tags
	}
	var stop []*checkState
	if old, ok := l.checks[hc.CheckID]; ok {
		stop = append(stop, old)
		if equalDefinition(old.hc, hc) {
			hc.Status, hc.Output = old.hc.Status, old.hc.Output
			cs.criticalSince = old.criticalSince
		}
	}
	if hc.Status == state.HealthCritical && cs.criticalSince.IsZero() {
		cs.criticalSince = time.Now()
	}
	l.checks[hc.CheckID] = cs
	delete(l.deregChecks, hc.CheckID)
	return stop
}

// RemoveService removes a service and its checks.
func (l *State) RemoveService(id string) error {
	l.mu.Lock()
	if _, ok := l.services[id]; !ok {
		l.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownService, id)
	}
	delete(l.services, id)
	l.servicesChangedLocked()
	l.deregServices[id] = true
	var stop []*checkState
	for cid, cs := range l.checks {
		if cs.hc.ServiceID == id {
			stop = append(stop, cs)
			l.removeCheckLocked(cid)
		}
	}
	l.mu.Unlock()
	stopAll(stop)
	l.trigger()
	return nil
}

// AddCheck adds or replaces a check and starts it. A check replacing one
// with the same ID and definition keeps the old one's status. A service
// check needs its service.
func (l *State) AddCheck(c *Check) error {
	started, err := l.startChecks([]*Check{c})
	if err != nil {
		return err
	}
	l.mu.Lock()
	if id := c.Health.ServiceID; id != "" {
		if _, ok := l.services[id]; !ok {
			l.mu.Unlock()
			stopAll(started)
			return fmt.Errorf("%w: %q (check %q)", ErrUnknownService, id, c.Health.CheckID)
		}
	}
	stop := l.publishCheckLocked(started[0])
	l.mu.Unlock()
	stopAll(stop)
	l.trigger()
	return nil
}

// RemoveCheck removes a check.
func (l *State) RemoveCheck(id string) error {
	l.mu.Lock()
	cs, ok := l.checks[id]
	if !ok {
		l.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownCheck, id)
	}
	l.removeCheckLocked(id)
	l.mu.Unlock()
	stopAll([]*checkState{cs})
	l.trigger()
	return nil
}

func (l *State) removeCheckLocked(id string) {
	delete(l.checks, id)
	l.deregChecks[id] = true
}

// stopAll stops the runners of removed checks. It is called without l.mu:
// a runner's notification may be waiting for l.mu while holding the lock
// its Stop needs.
func stopAll(css []*checkState) {
	for _, cs := range css {
		if cs.runner != nil {
			cs.runner.Stop()
		}
		if cs.alias != nil {
			cs.alias.stop()
		}
	}
}

// UpdateTTL reports a TTL check's status (the pass/warn/fail/update
// endpoints). It fails for an unknown check or one that is not a TTL check.
func (l *State) UpdateTTL(id, status, output string) error {
	for {
		l.mu.Lock()
		cs, ok := l.checks[id]
		l.mu.Unlock()
		if !ok {
			return fmt.Errorf("%w: %q", ErrUnknownCheck, id)
		}
		// cs.runner is set before cs is published and never changes after.
		if cs.runner == nil {
			return fmt.Errorf("%w: %q", checks.ErrNotTTL, id)
		}
		err := cs.runner.SetTTL(status, output)
		if !errors.Is(err, checks.ErrStopped) {
			return err
		}
		// Replaced meanwhile: the new check is published before the old
		// one stops, so the next look finds it (or finds it removed).
	}
}

// update records a result of check cs, if cs is still the check under its
// ID. A status change asks for a sync now; an output-only change waits for
// the next sync (Consul's check_update_interval idea: output that changes on
// every probe must not cost a Raft write each time).
func (l *State) update(cs *checkState, status, output string) {
	l.mu.Lock()
	if l.checks[cs.hc.CheckID] != cs || cs.hc.Status == status && cs.hc.Output == output {
		l.mu.Unlock()
		return
	}
	changed := cs.hc.Status != status
	hc := *cs.hc
	hc.Status, hc.Output = status, output
	cs.hc = &hc
	cs.changed()
	switch {
	case status != state.HealthCritical:
		cs.criticalSince = time.Time{}
	case cs.criticalSince.IsZero():
		cs.criticalSince = time.Now()
	}
	l.mu.Unlock()
	if changed {
		l.trigger()
	}
}

// SetServiceMaintenance adds (enable) or removes the maintenance check of a
// service; a service in maintenance is critical, so it leaves healthy
// results and DNS.
func (l *State) SetServiceMaintenance(id string, enable bool, reason string) error {
	l.mu.Lock()
	_, ok := l.services[id]
	l.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownService, id)
	}
	checkID := ServiceMaintenanceID(id)
	if !enable {
		if err := l.RemoveCheck(checkID); err != nil && !errors.Is(err, ErrUnknownCheck) {
			return err
		}
		return nil
	}
	if reason == "" {
		reason = defaultServiceMaintenanceNote
	}
	return l.AddCheck(maintenanceCheck(checkID, "Service Maintenance Mode", id, reason))
}

// ServiceMaintenanceID is the ID of a service's maintenance check
// (Consul's).
func ServiceMaintenanceID(serviceID string) string { return serviceMaintenancePfx + serviceID }

// SetNodeMaintenance does the same for the whole node.
func (l *State) SetNodeMaintenance(enable bool, reason string) error {
	if !enable {
		if err := l.RemoveCheck(NodeMaintenanceID); err != nil && !errors.Is(err, ErrUnknownCheck) {
			return err
		}
		return nil
	}
	return l.AddCheck(maintenanceCheck(NodeMaintenanceID, "Node Maintenance Mode", "", reason))
}

func maintenanceCheck(id, name, serviceID, reason string) *Check {
	if reason == "" {
		reason = defaultMaintenanceNote
	}
	return &Check{Health: &state.HealthCheck{CheckID: id, Name: name, Notes: reason, ServiceID: serviceID,
		Status: state.HealthCritical, Type: "maintenance"}}
}

// Services returns copies of the local services, in ID order.
func (l *State) Services() []*state.Service {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*state.Service, 0, len(l.services))
	for _, id := range slices.Sorted(maps.Keys(l.services)) {
		out = append(out, cloneService(l.services[id].svc))
	}
	return out
}

// Service returns a copy of one local service, or nil.
func (l *State) Service(id string) *state.Service {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ss, ok := l.services[id]; ok {
		return cloneService(ss.svc)
	}
	return nil
}

// Checks returns copies of the local checks, in ID order.
func (l *State) Checks() []*state.HealthCheck {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*state.HealthCheck, 0, len(l.checks))
	for _, id := range slices.Sorted(maps.Keys(l.checks)) {
		hc := *l.checks[id].hc
		out = append(out, &hc)
	}
	return out
}

// Persist is where API registrations are kept (nil: nowhere).
func (l *State) Persist() *Persisted { return l.cfg.Persist }

// ReapCritical removes every service with a check that has been critical
// for longer than its DeregisterCriticalServiceAfter, and returns their IDs.
func (l *State) ReapCritical(now time.Time) []string {
	l.mu.Lock()
	var ids []string
	for _, cs := range l.checks {
		if cs.deregisterAfter > 0 && cs.hc.ServiceID != "" && !cs.criticalSince.IsZero() &&
			now.Sub(cs.criticalSince) > cs.deregisterAfter && !slices.Contains(ids, cs.hc.ServiceID) {
			ids = append(ids, cs.hc.ServiceID)
		}
	}
	l.mu.Unlock()
	for _, id := range ids {
		if err := l.RemoveService(id); err == nil {
			l.cfg.Logger.Info("local: deregistered service whose check stayed critical", "service", id)
		}
		if err := l.cfg.Persist.DeleteService(id); err != nil {
			l.cfg.Logger.Warn("local: forgetting a reaped service failed", "service", id, "err", err)
		}
	}
	return ids
}

// Close stops every check runner. The State must not be used afterwards.
func (l *State) Close() {
	l.mu.Lock()
	var stop []*checkState
	for _, cs := range l.checks {
		stop = append(stop, cs)
	}
	l.mu.Unlock()
	stopAll(stop)
}

func (l *State) trigger() {
	select {
	case l.triggerCh <- struct{}{}:
	default:
	}
}

func cloneService(s *state.Service) *state.Service {
	c := *s
	return &c
}

// equalDefinition reports whether two checks run the same thing, so a
// re-registration may keep the running check's status.
func equalDefinition(a, b *state.HealthCheck) bool {
	return a.Type == b.Type && a.ServiceID == b.ServiceID && reflect.DeepEqual(a.Definition, b.Definition)
}
