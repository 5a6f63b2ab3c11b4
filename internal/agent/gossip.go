package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/musterhq/muster/internal/cluster"
	"github.com/musterhq/muster/internal/config"
	"github.com/musterhq/muster/internal/gossip"
	"github.com/musterhq/muster/internal/httpapi"
)

// gossipTiming is muster's LAN failure detector: a dead agent is declared
// failed in about two seconds (probe every 400 ms, 200 ms for an ack,
// suspicion over three probe rounds), where memberlist's and Consul's
// defaults take five or more. Each field can be set in gossip_lan.
func gossipTiming(g config.GossipLAN) gossip.Timing {
	t := gossip.LANTiming()
	t.ProbeInterval, t.ProbeTimeout, t.SuspicionMult, t.GossipInterval = 400*time.Millisecond, 200*time.Millisecond, 3, 100*time.Millisecond
	if g.ProbeInterval > 0 {
		t.ProbeInterval = time.Duration(g.ProbeInterval)
	}
	if g.ProbeTimeout > 0 {
		t.ProbeTimeout = time.Duration(g.ProbeTimeout)
	}
	if g.SuspicionMult > 0 {
		t.SuspicionMult = g.SuspicionMult
	}
	if g.GossipInterval > 0 {
		t.GossipInterval = time.Duration(g.GossipInterval)
	}
	return t
}

// startGossip joins this agent to the LAN pool (unless ports.serf_lan is
// -1 in dev mode), then runs -join (all must answer) and -retry-join (in
// the background, with backoff).
func (a *Agent) startGossip() error {
	if a.cfg.Ports.SerfLAN < 0 {
		return nil
	}
	var key []byte
	if a.cfg.Encrypt != "" {
		k, err := gossip.DecodeKey(a.cfg.Encrypt)
		if err != nil {
			return fmt.Errorf("agent: -encrypt: %w", err)
		}
		key = k
	}
	tags := httpapi.AgentTags(a.apiAgent)
	if a.cfg.BootstrapExpect > 0 {
		tags["expect"] = strconv.Itoa(a.cfg.BootstrapExpect)
	}
	if a.cfg.Bootstrap {
		tags["bootstrap"] = "1"
	}
	pool, err := gossip.New(gossip.Config{
		NodeName: a.cfg.NodeName, BindAddr: a.cfg.BindAddr, BindPort: a.cfg.Ports.SerfLAN,
		AdvertiseAddr: a.advertiseAddr(), Datacenter: a.cfg.Datacenter, Tags: tags, EncryptKey: key,
		Timing: gossipTiming(a.cfg.GossipLAN), Logger: a.logger,
	})
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	a.pool = pool
	a.refreshServers()
	a.wg.Add(1)
	go a.gossipLoop()
	if len(a.cfg.StartJoin) > 0 {
		if n, err := pool.Join(a.cfg.StartJoin); err != nil || n < len(a.cfg.StartJoin) {
			return fmt.Errorf("agent: -join: reached %d of %d agents: %v", n, len(a.cfg.StartJoin), err)
		}
	}
	if len(a.cfg.RetryJoin) > 0 {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			go func() { <-a.stop; cancel() }()
			err := pool.RetryJoin(ctx, a.cfg.RetryJoin, time.Second, time.Duration(a.cfg.RetryInterval))
			if err == nil {
				a.logger.Info("agent: joined the cluster", "retry_join", a.cfg.RetryJoin)
			}
		}()
	}
	return nil
}

// gossipLoop follows membership: it keeps the list of servers current,
// bootstraps the cluster once -bootstrap-expect servers are there, and
// wakes the leader's reconciliation.
func (a *Agent) gossipLoop() {
	defer a.wg.Done()
	for {
		select {
		case <-a.stop:
			return
		case ev, ok := <-a.pool.Events():
			if !ok {
				return
			}
			a.logger.Debug("agent: member event", "type", ev.Type.String(), "member", ev.Member.Name)
			a.refreshServers()
			a.maybeBootstrap()
			select {
			case a.reconcileCh <- struct{}{}:
			default:
			}
		}
	}
}

// serverInfo is a server as its gossip tags describe it.
type serverInfo struct {
	Name, ID, Addr string // Addr is the server port, host:port
	Expect         int
	Status         gossip.Status
}

// asServer reads a member's server tags; ok is false for client agents
// and members of other datacenters.
func (a *Agent) asServer(m gossip.Member) (serverInfo, bool) {
	if m.Tags["role"] != "consul" || m.Tags["dc"] != a.cfg.Datacenter {
		return serverInfo{}, false
	}
	port, err := strconv.Atoi(m.Tags["port"])
	if err != nil || m.Tags["id"] == "" {
		return serverInfo{}, false
	}
	expect, _ := strconv.Atoi(m.Tags["expect"])
	return serverInfo{Name: m.Name, ID: m.Tags["id"], Addr: net.JoinHostPort(m.Addr, strconv.Itoa(port)),
		Expect: expect, Status: m.Status}, true
}

// refreshServers rebuilds the list of live servers' ports that a client
// agent forwards to.
func (a *Agent) refreshServers() {
	var addrs []string
	for _, m := range a.pool.Members() {
		if s, ok := a.asServer(m); ok && m.Status == gossip.StatusAlive && m.Name != a.cfg.NodeName {
			addrs = append(addrs, s.Addr)
		}
	}
	slices.Sort(addrs)
	a.servers.Store(&addrs)
}

// serverAddrs is the current list of live servers (client agents).
func (a *Agent) serverAddrs() []string {
	if p := a.servers.Load(); p != nil {
		return *p
	}
	return nil
}

// maybeBootstrap starts a new cluster once the -bootstrap-expect servers
// see each other, as Consul does: every one of them bootstraps with the
// same server list, unless one already belongs to a cluster (then this
// server waits for that cluster's leader to add it).
func (a *Agent) maybeBootstrap() {
	if a.cluster == nil || a.cfg.BootstrapExpect < 2 || a.cluster.HasState() || a.bootstrapped.Load() {
		return
	}
	var servers []serverInfo
	for _, m := range a.pool.Members() {
		s, ok := a.asServer(m)
		if !ok || m.Status != gossip.StatusAlive {
			continue
		}
		if s.Expect != 0 && s.Expect != a.cfg.BootstrapExpect {
			a.logger.Error("agent: servers disagree on bootstrap_expect; not bootstrapping", "member", s.Name, "expect", s.Expect)
			return
		}
		servers = append(servers, s)
	}
	if len(servers) < a.cfg.BootstrapExpect {
		return
	}
	for _, s := range servers {
		if s.Name == a.cfg.NodeName {
			continue
		}
		peers, err := a.peersOf(s.Addr)
		if err != nil {
			a.logger.Warn("agent: cannot ask a server for its peers; bootstrap waits", "server", s.Name, "err", err)
			return
		}
		if len(peers) > 0 {
			a.logger.Info("agent: found an existing cluster; waiting to be added to it", "server", s.Name)
			a.bootstrapped.Store(true)
			return
		}
	}
	var list []cluster.Server
	for _, s := range servers {
		list = append(list, cluster.Server{ID: s.ID, Address: s.Addr})
	}
	a.bootstrapped.Store(true)
	if err := a.cluster.BootstrapServers(list); err != nil {
		a.logger.Error("agent: bootstrap failed", "err", err)
		return
	}
	a.logger.Info("agent: bootstrapped the cluster", "servers", len(list))
}

// peersOf asks a server (its server port) for its Raft peers.
func (a *Agent) peersOf(addr string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var peers []string
	if err := a.internalGet(ctx, addr, "/v1/status/peers", &peers); err != nil {
		return nil, err
	}
	return peers, nil
}

// Leave leaves the cluster gracefully (PUT /v1/agent/leave, or a client
// agent's shutdown): a leader first hands leadership over, then the agent
// tells the pool it is leaving, so the others see "left", the catalog
// drops the node and a server leaves Raft. Left is closed afterwards;
// the caller then calls Shutdown.
func (a *Agent) Leave() error {
	if a.pool == nil {
		a.leftOnce.Do(func() { close(a.left) })
		return nil
	}
	if err := a.StepDown(); err != nil {
		a.logger.Warn("agent: leadership transfer before leaving failed", "err", err)
	}
	err := a.pool.Leave(5 * time.Second)
	if err != nil && !errors.Is(err, gossip.ErrLeft) {
		return fmt.Errorf("agent: leave: %w", err)
	}
	a.leftOnce.Do(func() { close(a.left) })
	return nil
}

// Left is closed once the agent has left the cluster.
func (a *Agent) Left() <-chan struct{} { return a.left }

// poolGossip adapts the pool to the API's membership endpoints.
type poolGossip struct{ p *gossip.Pool }

func (g poolGossip) Members() []gossip.Member     { return g.p.Members() }
func (g poolGossip) LocalMember() gossip.Member   { return g.p.LocalMember() }
func (g poolGossip) Join(a []string) (int, error) { return g.p.Join(a) }
func (g poolGossip) ForceLeave(name string, prune bool) error {
	if prune {
		return g.p.ForceLeavePrune(name)
	}
	return g.p.ForceLeave(name)
}

// GossipAddr is the advertised host:port of the agent's gossip pool, for
// other agents to join ("" with gossip off).
func (a *Agent) GossipAddr() string {
	if a.pool == nil {
		return ""
	}
	m := a.pool.LocalMember()
	return net.JoinHostPort(m.Addr, strconv.Itoa(m.Port))
}

// IsLeader reports whether this agent is the Raft leader.
func (a *Agent) IsLeader() bool { return a.cluster != nil && a.cluster.IsLeader() }

// Ports are the server and gossip ports actually bound (0 when absent),
// for restarting an agent on the same ones.
func (a *Agent) Ports() (server, serf int) {
	if a.cluster != nil && !a.cfg.Dev {
		server = a.apiAgent.ServerPort
	}
	if a.pool != nil {
		serf = a.pool.LocalMember().Port
	}
	return server, serf
}
