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
	"sync"
	"time"

	"github.com/hashicorp/go-uuid"

	"github.com/musterhq/muster/internal/checks"
	"github.com/musterhq/muster/internal/cluster"
	"github.com/musterhq/muster/internal/config"
	"github.com/musterhq/muster/internal/dns"
	"github.com/musterhq/muster/internal/fsm"
	"github.com/musterhq/muster/internal/httpapi"
	"github.com/musterhq/muster/internal/leader"
	"github.com/musterhq/muster/internal/local"
	"github.com/musterhq/muster/internal/logstream"
	"github.com/musterhq/muster/internal/metrics"
	"github.com/musterhq/muster/internal/state"
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
	api            *httpapi.Server
	httpSrv        *http.Server
	dnsSrv         *dns.Server
	httpLn         net.Listener

	stop chan struct{}
	wg   sync.WaitGroup
}

// New validates cfg and starts the agent: Raft, the leader loop and the
// HTTP listener. It returns once the agent serves requests.
func New(cfg *config.Config, logger *slog.Logger) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.NodeID == "" {
		id, err := uuid.GenerateUUID()
		if err != nil {
			return nil, fmt.Errorf("agent: node id: %w", err)
		}
		cfg.NodeID = id
	}
	// Every log record also reaches /v1/agent/monitor subscribers.
	logs := logstream.New(logger.Handler())
	logger = slog.New(logs)
	a := &Agent{cfg: cfg, logger: logger, fsm: fsm.New(), stop: make(chan struct{}),
		tombstones: &leader.TombstoneGC{TTL: leader.DefaultTombstoneTTL, Granularity: leader.DefaultTombstoneGranularity}}

	c, err := cluster.New(cluster.Config{
		NodeID: cfg.NodeID, Dev: cfg.Dev, DataDir: cfg.DataDir, Bootstrap: cfg.Bootstrap,
		Bind:   net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.Ports.Server)),
		Addr:   net.JoinHostPort(a.advertiseAddr(), strconv.Itoa(cfg.Ports.Server)),
		Logger: logger,
	}, a.fsm)
	if err != nil {
		return nil, err
	}
	a.cluster = c

	roots, err := newCARoots(cfg.NodeID)
	if err != nil {
		c.Shutdown()
		return nil, err
	}
	a.timers = leader.NewSessionTimers(time.Duration(cfg.SessionTTLGrace), nil, logger)
	a.local = local.New(local.Config{
		Node: a.localNode(), Locality: a.locality(), Applier: c, Store: a.fsm.State, Logger: logger,
		Checks:       checks.Options{Logger: logger},
		ScriptChecks: cfg.EnableScriptChecks, LocalScriptChecks: cfg.EnableLocalScriptChecks,
	})
	if err := a.loadServices(cfg.Services); err != nil {
		a.local.Close() // stop the checks of the services loaded before the bad one
		c.Shutdown()
		return nil, err
	}
	a.api = httpapi.New(httpapi.Config{
		Agent: httpapi.Agent{
			NodeName: cfg.NodeName, NodeID: cfg.NodeID, Datacenter: cfg.Datacenter,
			Address: a.advertiseAddr(), ServerPort: cfg.Ports.Server, SerfPort: cfg.Ports.SerfLAN,
			Version: Version, Server: cfg.Server,
		},
		Limits: httpapi.Limits{
			KVMaxValueSize: cfg.Limits.KVMaxValueSize,
			TxnMaxReqLen:   cfg.Limits.TxnMaxReqLen,
			TxnMaxOps:      cfg.Limits.TxnMaxOps,
			MaxBodySize:    httpapi.DefaultLimits().MaxBodySize,
		},
		FSM: a.fsm, Cluster: c, Sessions: a.timers, Logger: logger, CARoots: roots, Local: a.local, Reload: a.Reload,
		Metrics: a.newMetrics(), Logs: logs,
		OnRestore: func() error {
			a.timers.ClearAll()
			a.local.ResyncAll()
			return a.establishLeadership()
		},
		Extra: func(mux *http.ServeMux) {
			if cfg.EnableDebug {
				mux.HandleFunc("/debug/pprof/", pprof.Index)
				mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
				mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
			}
		},
	})
	a.timers.Expire = a.api.DestroySession

	if err := a.establishLeadership(); err != nil {
		c.Shutdown()
		return nil, err
	}
	a.wg.Add(2)
	go a.leaderLoop()
	go func() {
		defer a.wg.Done()
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-a.stop; cancel() }()
		a.local.Run(ctx, local.DefaultFullSyncInterval)
	}()

	if err := a.serveHTTP(); err != nil {
		a.Shutdown()
		return nil, err
	}
	if err := a.serveDNS(); err != nil {
		a.Shutdown()
		return nil, err
	}
	return a, nil
}

func (a *Agent) advertiseAddr() string {
	if a.cfg.AdvertiseAddr != "" {
		return a.cfg.AdvertiseAddr
	}
	if a.cfg.BindAddr == "0.0.0.0" || a.cfg.BindAddr == "" {
		return "127.0.0.1"
	}
	return a.cfg.BindAddr
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
	a.httpSrv = &http.Server{Handler: a.api, ReadHeaderTimeout: 10 * time.Second,
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
	dc.Store, dc.Logger = a.fsm.State, a.logger
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
	for {
		select {
		case <-a.stop:
			return
		case isLeader := <-ch:
			if !isLeader {
				a.timers.ClearAll()
				a.tombstones.Reset()
				continue
			}
			if err := a.establishLeadership(); err != nil {
				a.logger.Error("agent: leader setup failed", "err", err)
			}
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

// establishLeadership registers this node in the catalog with a passing
// serfHealth check (and, on a server, the "consul" service Consul clients
// look for) and restarts every TTL session's timer at full TTL.
func (a *Agent) establishLeadership() error {
	node := fsm.RegisterRequest{
		Node: a.localNode(),
		Checks: []*state.HealthCheck{{
			CheckID: state.SerfCheckID, Name: "Serf Health Status", Status: state.HealthPassing,
			Output: "Agent alive and reachable", ServiceTags: []string{}, // Consul shows []
		}},
	}
	if a.cfg.Server {
		node.Service = &state.Service{
			ID: "consul", Service: "consul", Port: a.cfg.Ports.Server,
			Meta: map[string]string{"raft_version": "3", "version": Version},
		}
	}
	out, _, err := a.cluster.Apply(fsm.RegisterRequestType, &node)
	if err != nil {
		return err
	}
	if err, ok := out.(error); ok {
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
	if err := a.loadServices(fresh.Services); err != nil {
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
		if a.cluster.IsLeader() {
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

// Shutdown stops the HTTP server (letting in-flight requests finish for a
// few seconds), the leader loop and Raft.
func (a *Agent) Shutdown() error {
	select {
	case <-a.stop:
		return nil
	default:
	}
	close(a.stop)
	if a.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := a.httpSrv.Shutdown(ctx); err != nil {
			a.httpSrv.Close()
		}
	}
	if a.dnsSrv != nil {
		a.dnsSrv.Shutdown()
	}
	a.timers.ClearAll()
	a.wg.Wait() // the syncer stops before Raft does
	a.local.Close()
	err := a.cluster.Shutdown()
	return err
}

// State is the agent's current state store.
func (a *Agent) State() *state.Store { return a.fsm.State() }
