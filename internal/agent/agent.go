// Package agent wires a muster agent together and runs its lifecycle: the
// Raft node, the HTTP API, and the loops the leader runs. It holds no
// business logic of its own.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sockaddr "github.com/hashicorp/go-sockaddr"

	"github.com/musterhq/muster/internal/adopt"
	"github.com/musterhq/muster/internal/checks"
	"github.com/musterhq/muster/internal/cluster"
	"github.com/musterhq/muster/internal/config"
	"github.com/musterhq/muster/internal/dns"
	"github.com/musterhq/muster/internal/forward"
	"github.com/musterhq/muster/internal/fsm"
	"github.com/musterhq/muster/internal/gossip"
	"github.com/musterhq/muster/internal/httpapi"
	"github.com/musterhq/muster/internal/leader"
	"github.com/musterhq/muster/internal/local"
	"github.com/musterhq/muster/internal/logstream"
	"github.com/musterhq/muster/internal/metrics"
	"github.com/musterhq/muster/internal/state"
	"github.com/musterhq/muster/internal/ui"
)

// Version is muster's version, reported by `muster version` and the API.
const Version = "0.1.0"

// Agent is a running agent.
type Agent struct {
	cfg     *config.Config
	logger  *slog.Logger
	fsm     *fsm.FSM
	cluster *cluster.Cluster
	timers  *leader.SessionTimers
	// tombstones paces the reaping of deleted keys' tombstones.
	tombstones *leader.TombstoneGC
	// local is the agent's own services and checks, synced to the catalog.
	local *local.State
	// configServices are the IDs of the services defined in config files
	// (a reload removes those no longer there); guarded by reloadMu.
	reloadMu       sync.Mutex
	configServices map[string]bool
	// configChecks are the IDs of the top-level config-file checks.
	configChecks map[string]bool
	api          *httpapi.Server
	apiAgent     httpapi.Agent
	fwd          *forward.Handler
	httpSrv      *http.Server
	serverSrv    *http.Server // forwarded calls on the server port
	dnsSrv       *dns.Server
	httpLn       net.Listener

	// pool is the LAN gossip pool (nil with ports.serf_lan -1 in dev).
	pool *gossip.Pool
	// servers are the live servers' ports, for a client agent to forward to.
	servers atomic.Pointer[[]string]
	// bootstrapped is set once -bootstrap-expect has been acted on.
	bootstrapped atomic.Bool
	// reconcileCh wakes the leader's reconciliation of members.
	reconcileCh chan struct{}
	// adopter runs the checks of nodes whose agent is gone while this
	// server leads (nil on a client agent).
	adopter  *adopt.Adopter
	left     chan struct{}
	leftOnce sync.Once

	stop chan struct{}
	wg   sync.WaitGroup
}

// reconcileInterval is how often the leader reconciles every member even
// without events (Consul's reconcile_interval).
const reconcileInterval = 30 * time.Second

// barrierTimeout bounds a new leader's wait for its FSM to apply what was
// committed before its term (cluster.MarkReady).
const barrierTimeout = 30 * time.Second

// New validates cfg and starts the agent: Raft, the leader loop and the
// HTTP listener. It returns once the agent serves requests.
func New(cfg *config.Config, logger *slog.Logger) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	id, err := nodeID(cfg.NodeID, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	cfg.NodeID = id
	// Every log record also reaches /v1/agent/monitor subscribers.
	logs := logstream.New(logger.Handler())
	logger = slog.New(logs)
	a := &Agent{cfg: cfg, logger: logger, fsm: fsm.New(), stop: make(chan struct{}),
		reconcileCh: make(chan struct{}, 1), left: make(chan struct{}),
		tombstones: &leader.TombstoneGC{TTL: leader.DefaultTombstoneTTL, Granularity: leader.DefaultTombstoneGranularity}}
	a.apiAgent = httpapi.Agent{
		NodeName: cfg.NodeName, NodeID: cfg.NodeID, Datacenter: cfg.Datacenter,
		Address: a.advertiseAddr(), ServerPort: cfg.Ports.Server, SerfPort: cfg.Ports.SerfLAN,
		Version: Version, Server: cfg.Server,
	}
	if err := a.startCluster(); err != nil {
		return nil, err
	}
	// From here on, a failure shuts down what was started.
	fail := func(err error) (*Agent, error) {
		a.Shutdown()
		return nil, err
	}

	roots, err := newCARoots(cfg.NodeID)
	if err != nil {
		return fail(err)
	}
	a.timers = leader.NewSessionTimers(time.Duration(cfg.SessionTTLGrace), nil, logger)
	a.fwd = forward.New(forward.Config{
		Server: cfg.Server, NodeName: cfg.NodeName, Logger: logger, Servers: a.serverAddrs,
		IsLeader:    func() bool { return a.cluster != nil && a.cluster.IsLeader() },
		Leader:      func() string { return a.cluster.Leader() },
		LastContact: func() time.Duration { return a.cluster.LastContact() },
	})
	actx, acancel := context.WithCancel(context.Background())
	go func() { <-a.stop; acancel() }()
	ap := applier{cluster: a.cluster, fwd: a.fwd, ctx: actx}
	lc := local.Config{
		Node: a.localNode(), Locality: a.locality(), Applier: ap, Store: a.fsm.State, Logger: logger,
		Checks:       checks.Options{Logger: logger},
		ScriptChecks: cfg.EnableScriptChecks, LocalScriptChecks: cfg.EnableLocalScriptChecks,
	}
	if !cfg.Server {
		lc.Catalog = ap.catalog // a client agent keeps no catalog of its own
	}
	if !cfg.Dev && cfg.DataDir != "" {
		if lc.Persist, err = local.OpenPersisted(cfg.DataDir); err != nil {
			return fail(err)
		}
	}
	a.local = local.New(lc)
	a.restorePersisted()
	if a.cluster != nil {
		a.adopter = adopt.New(adopt.Config{
			State: a.fsm.State, Apply: a.applyOK, Alive: a.alive,
			Checks: checks.Options{Logger: logger}, Logger: logger,
		})
	}
	if err := a.loadConfig(cfg.Services, cfg.Checks); err != nil {
		return fail(err)
	}
	a.api = httpapi.New(httpapi.Config{
		Agent: a.apiAgent,
		Limits: httpapi.Limits{
			KVMaxValueSize: cfg.Limits.KVMaxValueSize,
			TxnMaxReqLen:   cfg.Limits.TxnMaxReqLen,
			TxnMaxOps:      cfg.Limits.TxnMaxOps,
			MaxBodySize:    httpapi.DefaultLimits().MaxBodySize,
		},
		FSM: a.fsm, Cluster: a.cluster, Sessions: a.timers, Logger: logger, CARoots: roots, Local: a.local, Reload: a.Reload,
		Metrics: a.newMetrics(), Logs: logs, Leave: a.Leave,
		OnRestore: func() error {
			a.timers.ClearAll()
			a.local.ResyncAll()
			return a.establishLeadership()
		},
		Extra: func(mux *http.ServeMux) {
			ui.Register(mux)
			if cfg.EnableDebug {
				mux.HandleFunc("/debug/pprof/", pprof.Index)
				mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
				mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
			}
		},
	})
	a.timers.Expire = a.api.DestroySession
	a.fwd.SetLocal(a.api)

	if err := a.startGossip(); err != nil {
		return fail(err)
	}
	if a.pool != nil {
		a.api.SetGossip(poolGossip{a.pool})
	}
	if a.cluster != nil {
		if a.cluster.IsLeader() {
			if err := a.cluster.MarkReady(barrierTimeout); err != nil {
				return fail(err)
			}
			if err := a.establishLeadership(); err != nil {
				return fail(err)
			}
		}
		a.wg.Add(1)
		go a.leaderLoop()
		a.serveServerPort()
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-a.stop; cancel() }()
		a.local.Run(ctx, local.DefaultFullSyncInterval)
	}()

	if err := a.serveHTTP(); err != nil {
		return fail(err)
	}
	if err := a.serveDNS(); err != nil {
		return fail(err)
	}
	return a, nil
}

// startCluster starts Raft on a server: in memory in dev mode, else on the
// server port, shared with forwarded API calls.
func (a *Agent) startCluster() error {
	cfg := a.cfg
	if !cfg.Server {
		return nil
	}
	cc := cluster.Config{
		NodeID: cfg.NodeID, Dev: cfg.Dev, DataDir: cfg.DataDir, LogStore: cfg.RaftLogStore.Backend, Bootstrap: cfg.Bootstrap,
		Addr:   net.JoinHostPort(a.advertiseAddr(), strconv.Itoa(cfg.Ports.Server)),
		Logger: a.logger,
		Timing: cluster.Timing{
			HeartbeatTimeout:   time.Duration(cfg.Performance.RaftHeartbeatTimeout),
			ElectionTimeout:    time.Duration(cfg.Performance.RaftElectionTimeout),
			LeaderLeaseTimeout: time.Duration(cfg.Performance.RaftLeaderLeaseTimeout),
		}.Scaled(cfg.Performance.RaftMultiplier),
	}
	if !cfg.Dev {
		mux, err := cluster.Listen(net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.Ports.Server)),
			net.JoinHostPort(a.advertiseAddr(), "0"))
		if err != nil {
			return err
		}
		cc.Mux = mux
		_, port, _ := net.SplitHostPort(mux.Addr().String())
		a.apiAgent.ServerPort, _ = strconv.Atoi(port)
	}
	c, err := cluster.New(cc, a.fsm)
	if err != nil {
		if cc.Mux != nil {
			cc.Mux.Close()
		}
		return err
	}
	a.cluster = c
	return nil
}

// serveServerPort answers forwarded API calls (and the agent-only
// /v1/internal endpoints) on the server port's HTTP half.
func (a *Agent) serveServerPort() {
	ln := a.cluster.HTTPListener()
	if ln == nil {
		return // dev mode: no server port
	}
	base, cancel := context.WithCancel(context.Background())
	go func() { <-a.stop; cancel() }()
	a.serverSrv = &http.Server{Handler: a.fwd, ReadHeaderTimeout: 10 * time.Second,
		Protocols: forward.ServerProtocols(true), HTTP2: forward.ServerHTTP2(),
		BaseContext: func(net.Listener) context.Context { return base }}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := a.serverSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, cluster.ErrMuxClosed) {
			a.logger.Error("agent: server port stopped", "err", err)
		}
	}()
}

// advertiseAddr is the address other agents reach this one at: -advertise,
// else -bind, else (bound to every interface) a private IP of this host,
// as Consul picks one; 127.0.0.1 in dev mode.
func (a *Agent) advertiseAddr() string {
	if a.cfg.AdvertiseAddr != "" {
		return a.cfg.AdvertiseAddr
	}
	if a.cfg.BindAddr != "0.0.0.0" && a.cfg.BindAddr != "" {
		return a.cfg.BindAddr
	}
	if !a.cfg.Dev {
		if ip, err := sockaddr.GetPrivateIP(); err == nil && ip != "" {
			return ip
		}
	}
	return "127.0.0.1"
}

func (a *Agent) serveHTTP() error {
	if a.cfg.Ports.HTTP < 0 {
		return nil
	}
	addr := net.JoinHostPort(a.cfg.ClientAddr, strconv.Itoa(a.cfg.Ports.HTTP))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("agent: http listener: %w", err)
	}
	a.httpLn = ln
	// Request contexts end when the agent stops, so blocking queries and
	// monitor streams answer at once instead of holding up the shutdown.
	base, cancel := context.WithCancel(context.Background())
	go func() { <-a.stop; cancel() }()
	a.httpSrv = &http.Server{Handler: publicHandler(a.fwd), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return base }}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := a.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.logger.Error("agent: http server stopped", "err", err)
		}
	}()
	a.logger.Info("agent: HTTP API listening", "addr", ln.Addr().String())
	return nil
}

// publicHandler is the HTTP API as clients see it: the agent-only
// /v1/internal endpoints are not there.
func publicHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, httpapi.InternalPrefix) {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// serveDNS starts the DNS interface on the DNS port (-1 turns it off).
func (a *Agent) serveDNS() error {
	if a.cfg.Ports.DNS < 0 {
		return nil
	}
	dc := dns.DefaultConfig()
	dc.Addr = net.JoinHostPort(a.cfg.ClientAddr, strconv.Itoa(a.cfg.Ports.DNS))
	dc.Datacenter = a.cfg.Datacenter
	dc.Recursors = a.cfg.Recursors
	dc.OnlyPassing = a.cfg.DNSConfig.OnlyPassing
	if n := a.cfg.DNSConfig.UDPAnswerLimit; n > 0 {
		dc.UDPAnswerLimit = n
	}
	dc.Logger = a.logger
	if a.cfg.Server {
		dc.Catalog = dns.StoreCatalog(a.fsm.State)
	} else {
		dc.Catalog = a.serverCatalog() // a client agent keeps no catalog
	}
	srv, err := dns.New(dc)
	if err != nil {
		return fmt.Errorf("agent: dns: %w", err)
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("agent: dns: %w", err)
	}
	a.dnsSrv = srv
	a.logger.Info("agent: DNS listening", "addr", srv.Addr())
	return nil
}

// DNSAddr is the address the DNS interface listens on ("" when off).
func (a *Agent) DNSAddr() string {
	if a.dnsSrv == nil {
		return ""
	}
	return a.dnsSrv.Addr()
}

// HTTPAddr is the address the HTTP API listens on (useful with port 0).
func (a *Agent) HTTPAddr() string {
	if a.httpLn == nil {
		return ""
	}
	return a.httpLn.Addr().String()
}

// leaderLoop runs leader duties while this node leads.
func (a *Agent) leaderLoop() {
	defer a.wg.Done()
	ch := a.cluster.LeaderCh()
	gcTick := time.NewTicker(a.tombstones.Granularity)
	defer gcTick.Stop()
	reconcileTick := time.NewTicker(reconcileInterval)
	defer reconcileTick.Stop()
	// endTerm ends the duties that run on their own while this server
	// leads (the adopter).
	endTerm := func() {}
	if a.cluster.IsLeader() { // led from the start (dev, -bootstrap)
		endTerm = a.startAdopter()
	}
	defer func() { endTerm() }()
	for {
		select {
		case <-a.stop:
			return
		case isLeader := <-ch:
			endTerm()
			if !isLeader {
				a.cluster.MarkUnready()
				a.logger.Info("agent: lost leadership")
				a.timers.ClearAll()
				a.tombstones.Reset()
				continue
			}
			a.logger.Info("agent: became the cluster leader")
			if err := a.cluster.MarkReady(barrierTimeout); err != nil {
				a.logger.Error("agent: the new leader could not catch up; stepping down", "err", err)
				a.cluster.TransferLeadership()
				continue
			}
			if err := a.establishLeadership(); err != nil {
				a.logger.Error("agent: leader setup failed", "err", err)
			}
			endTerm = a.startAdopter()
		case <-a.reconcileCh:
			a.reconcileIfLeader()
			a.adopter.Wake()
		case <-reconcileTick.C:
			a.reconcileIfLeader()
		case now := <-gcTick.C:
			if !a.cluster.IsLeader() {
				continue
			}
			if upTo := a.tombstones.Sample(now, a.fsm.State().LatestIndex()); upTo > 0 {
				if _, _, err := a.cluster.Apply(fsm.ReapRequestType, &fsm.ReapRequest{UpTo: upTo}); err != nil {
					a.logger.Warn("agent: tombstone reap failed", "err", err)
				}
			}
		}
	}
}

// startAdopter starts adopting the checks of nodes whose agent is gone,
// for one term of office; the returned func ends it and waits.
func (a *Agent) startAdopter() func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.adopter.Run(ctx)
	}()
	return func() { cancel(); <-done }
}

// alive reports whether node's agent is alive in the gossip pool (without
// a pool, only this agent is).
func (a *Agent) alive(node string) bool {
	if a.pool == nil {
		return node == a.cfg.NodeName
	}
	for _, m := range a.pool.Members() {
		if m.Name == node {
			return m.Status == gossip.StatusAlive || m.Status == gossip.StatusLeaving
		}
	}
	return false
}

func (a *Agent) reconcileIfLeader() {
	if !a.cluster.IsLeader() {
		return
	}
	if err := a.reconcile(); err != nil {
		a.logger.Warn("agent: reconciling members failed", "err", err)
	}
}

// establishLeadership runs when this server becomes leader: it reconciles
// the members into the catalog and Raft (this node included, with a passing
// serfHealth check and, on a server, the "consul" service Consul clients
// look for) and restarts every TTL session's timer at full TTL.
func (a *Agent) establishLeadership() error {
	if err := a.reconcile(); err != nil {
		return err
	}
	_, sessions, err := a.fsm.State().SessionList(nil, "")
	if err != nil {
		return err
	}
	for _, s := range sessions {
		if ttl, err := time.ParseDuration(s.TTL); err == nil {
			a.timers.Reset(s.ID, ttl)
		}
	}
	return nil
}

// restorePersisted registers again the services and checks registered
// through the API before a restart (before the first sync, so the catalog
// never loses them). One that no longer validates, or a check whose
// service is gone, is logged and forgotten.
func (a *Agent) restorePersisted() {
	p := a.local.Persist()
	svcs, chks, errs := p.Load()
	for _, err := range errs {
		a.logger.Warn("agent: a saved registration cannot be read", "err", err)
	}
	for _, d := range svcs {
		svc, cs, err := d.Service()
		if err == nil {
			err = a.local.AddService(svc, cs, true)
		}
		if err != nil {
			a.logger.Warn("agent: dropping a saved service", "service", d.ID, "err", err)
			p.DeleteService(d.ID)
		}
	}
	for _, d := range chks {
		c, err := d.Check()
		if err == nil {
			err = a.local.AddCheck(c)
		}
		if err != nil {
			a.logger.Warn("agent: dropping a saved check", "check", d.CheckID, "err", err)
			p.DeleteCheck(d.CheckID)
		}
	}
	if len(svcs)+len(chks) > 0 {
		a.logger.Info("agent: restored registrations from the data directory", "services", len(svcs), "checks", len(chks))
	}
}

// loadConfig registers the config files' services, then their top-level
// checks (which may name those services).
func (a *Agent) loadConfig(services, checks []json.RawMessage) error {
	if err := a.loadServices(services); err != nil {
		return err
	}
	return a.loadChecks(checks)
}

// loadChecks registers the top-level check definitions of the config
// files (script checks allowed by enable_local_script_checks) and removes
// the config-defined checks that are no longer there.
func (a *Agent) loadChecks(raws []json.RawMessage) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	seen := map[string]bool{}
	defer func() {
		if a.configChecks == nil {
			a.configChecks = map[string]bool{}
		}
		maps.Copy(a.configChecks, seen)
	}()
	for _, raw := range raws {
		defs, err := local.DecodeConfigChecks(raw)
		if err != nil {
			return err
		}
		for _, d := range defs {
			c, err := d.Check()
			if err != nil {
				return fmt.Errorf("agent: config check %q: %w", d.Name, err)
			}
			c.FromConfig = true
			if err := a.local.AddCheck(c); err != nil {
				return fmt.Errorf("agent: config check %q: %w", d.Name, err)
			}
			seen[c.Health.CheckID] = true
		}
	}
	for id := range a.configChecks {
		if !seen[id] {
			if err := a.local.RemoveCheck(id); err != nil && !errors.Is(err, local.ErrUnknownCheck) {
				return err
			}
			delete(a.configChecks, id)
		}
	}
	return nil
}

// loadServices registers the service definitions of the config files and
// removes the config-defined services that are no longer there.
func (a *Agent) loadServices(raws []json.RawMessage) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	seen := map[string]bool{}
	// Whatever happens below, the services registered so far are tracked,
	// so a later reload can remove them.
	defer func() {
		if a.configServices == nil {
			a.configServices = map[string]bool{}
		}
		maps.Copy(a.configServices, seen)
	}()
	for _, raw := range raws {
		defs, err := local.DecodeConfigServices(raw)
		if err != nil {
			return err
		}
		for _, d := range defs {
			svc, chks, err := d.Service()
			if err != nil {
				return fmt.Errorf("agent: config service %q: %w", d.Name, err)
			}
			for _, c := range chks {
				c.FromConfig = true
			}
			if err := a.local.AddService(svc, chks, true); err != nil {
				return fmt.Errorf("agent: config service %q: %w", d.Name, err)
			}
			seen[svc.ID] = true
		}
	}
	for id := range a.configServices {
		if !seen[id] {
			if err := a.local.RemoveService(id); err != nil && !errors.Is(err, local.ErrUnknownService) {
				return err
			}
			delete(a.configServices, id)
		}
	}
	return nil
}

// Reload re-reads the config files' service definitions (PUT
// /v1/agent/reload). Other settings take a restart.
func (a *Agent) Reload() error {
	fresh := config.Default()
	for _, f := range a.cfg.Files {
		if _, err := fresh.LoadFile(f); err != nil {
			return err
		}
	}
	if err := a.loadConfig(fresh.Services, fresh.Checks); err != nil {
		return err
	}
	a.logger.Info("agent: reloaded service definitions", "files", len(a.cfg.Files))
	return nil
}

// SyncCatalog runs a full anti-entropy round now: the catalog entries of
// this node are made to match the agent's local services and checks.
func (a *Agent) SyncCatalog() error { return a.local.SyncFull() }

// newMetrics builds the agent's registry with its gauges.
func (a *Agent) newMetrics() *metrics.Metrics {
	m := metrics.New()
	m.Gauge("muster_raft_leader", "1 while this server is the Raft leader.", func() float64 {
		if a.cluster != nil && a.cluster.IsLeader() {
			return 1
		}
		return 0
	})
	m.Gauge("muster_state_index", "Raft index of the last write applied to the state store.", func() float64 {
		return float64(a.fsm.State().LatestIndex())
	})
	m.Gauge("muster_local_services", "Services registered on this agent.", func() float64 {
		return float64(len(a.local.Services()))
	})
	m.Gauge("muster_local_checks_critical", "Checks of this agent that are critical.", func() float64 {
		n := 0
		for _, c := range a.local.Checks() {
			if c.Status == state.HealthCritical {
				n++
			}
		}
		return float64(n)
	})
	return m
}

// localNode is this agent's catalog node, as every registration of its own
// sends it.
func (a *Agent) localNode() state.Node {
	addr := a.advertiseAddr()
	meta := map[string]string{}
	maps.Copy(meta, a.cfg.NodeMeta)
	meta["consul-network-segment"], meta["consul-version"] = "", Version
	return state.Node{
		ID: a.cfg.NodeID, Node: a.cfg.NodeName, Address: addr, Datacenter: a.cfg.Datacenter,
		TaggedAddresses: map[string]string{"lan": addr, "lan_ipv4": addr, "wan": addr, "wan_ipv4": addr},
		Meta:            meta,
	}
}

// locality is the agent's configured locality, or nil.
func (a *Agent) locality() *state.Locality {
	if l := a.cfg.Locality; l != nil {
		return &state.Locality{Region: l.Region, Zone: l.Zone}
	}
	return nil
}

// Shutdown stops the HTTP servers (letting in-flight requests finish for a
// few seconds), the loops, gossip (without a leave: the others see this
// agent fail; call Leave first for a graceful exit) and Raft. Safe on a
// partly started agent.
func (a *Agent) Shutdown() error {
	select {
	case <-a.stop:
		return nil
	default:
	}
	close(a.stop)
	if a.cluster != nil {
		// Refuse new connections on the server port at once: agents that
		// forward here see a refused dial, which they safely retry
		// elsewhere, instead of a call cut off after it was sent.
		a.cluster.CloseServerPort()
	}
	for _, srv := range []*http.Server{a.httpSrv, a.serverSrv} {
		if srv == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
		cancel()
	}
	if a.dnsSrv != nil {
		a.dnsSrv.Shutdown()
	}
	if a.timers != nil {
		a.timers.ClearAll()
	}
	if a.pool != nil {
		a.pool.Shutdown()
	}
	a.wg.Wait() // the syncer stops before Raft does
	if a.local != nil {
		a.local.Close()
	}
	if a.fwd != nil {
		a.fwd.Close()
	}
	if a.cluster != nil {
		return a.cluster.Shutdown()
	}
	return nil
}

// StepDown hands leadership to another server when this one leads (a
// graceful stop: the cluster keeps a leader without waiting for an
// election). It is a no-op elsewhere.
func (a *Agent) StepDown() error {
	if a.cluster == nil || !a.cluster.IsLeader() {
		return nil
	}
	servers, _, err := a.cluster.Servers()
	if err != nil || len(servers) < 2 {
		return err
	}
	return a.cluster.TransferLeadership()
}

// State is the agent's current state store.
func (a *Agent) State() *state.Store { return a.fsm.State() }
