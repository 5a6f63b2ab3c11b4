package testagent

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/internal/agent"
	"github.com/musterhq/muster/internal/config"
)

// Cluster is a set of durable agents in this process, on loopback with
// ephemeral ports: servers that bootstrap together and client agents that
// join them.
type Cluster struct {
	t       testing.TB
	Servers []*Agent // nil where a server is stopped
	Clients []*Agent
	dir     string
	modify  []func(*config.Config) // every agent's, restarts included
}

// StartCluster starts n servers with -bootstrap-expect=n and the given
// number of client agents, waits for a leader, and stops them all in
// t.Cleanup. modify adjusts every agent's config.
func StartCluster(t testing.TB, servers, clients int, modify ...func(*config.Config)) *Cluster {
	t.Helper()
	c := &Cluster{t: t, dir: t.TempDir(), modify: modify}
	for i := range servers {
		name := "s" + strconv.Itoa(i+1)
		c.Servers = append(c.Servers, c.start(name, true, servers, c.joinAddrs(), modify))
	}
	c.WaitLeader(10 * time.Second)
	for i := range clients {
		name := "c" + strconv.Itoa(i+1)
		c.Clients = append(c.Clients, c.start(name, false, 0, c.joinAddrs(), modify))
	}
	return c
}

// joinAddrs are the gossip addresses of the running servers.
func (c *Cluster) joinAddrs() []string {
	var out []string
	for _, s := range c.Servers {
		if s != nil {
			out = append(out, s.GossipAddr())
		}
	}
	return out
}

// start starts one agent of the cluster; extra runs after modify.
func (c *Cluster) start(name string, server bool, expect int, join []string, modify []func(*config.Config), extra ...func(*config.Config)) *Agent {
	c.t.Helper()
	return startAgent(c.t, func(cfg *config.Config) {
		cfg.Dev = false
		cfg.Server = server
		cfg.Bootstrap = false
		cfg.BootstrapExpect = expect
		cfg.NodeName = name
		cfg.DataDir = filepath.Join(c.dir, name)
		cfg.BindAddr = "127.0.0.1"
		cfg.Ports.Server = 0
		cfg.RetryJoin = join
		cfg.RetryInterval = config.Duration(200 * time.Millisecond)
		for _, m := range modify {
			m(cfg)
		}
		for _, m := range extra {
			m(cfg)
		}
	})
}

// Leader returns the running server that leads, or nil.
func (c *Cluster) Leader() *Agent {
	for _, s := range c.Servers {
		if s != nil && s.IsLeader() {
			return s
		}
	}
	return nil
}

// WaitLeader waits until a running server leads and returns it.
func (c *Cluster) WaitLeader(timeout time.Duration) *Agent {
	c.t.Helper()
	WaitFor(c.t, timeout, "a cluster leader", func() bool { return c.Leader() != nil })
	return c.Leader()
}

// Kill stops server i without leaving (as a crash looks to the others).
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	c.Servers[i].Shutdown()
	c.Servers[i] = nil
}

// Restart starts server i again on its data directory and its old ports,
// joining the running servers.
func (c *Cluster) Restart(i int, old *Agent) {
	c.t.Helper()
	name := "s" + strconv.Itoa(i+1)
	serverPort, serfPort := old.Ports()
	c.Servers[i] = c.start(name, true, len(c.Servers), c.joinAddrs(), c.modify, func(cfg *config.Config) {
		cfg.Ports.Server, cfg.Ports.SerfLAN = serverPort, serfPort
	})
}

// Client returns an API client of agent a.
func Client(t testing.TB, a *agent.Agent) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: a.HTTPAddr()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// RestartClient starts client agent i again on its data directory and its
// old gossip port, after it was stopped.
func (c *Cluster) RestartClient(i int, old *Agent) {
	c.t.Helper()
	name := "c" + strconv.Itoa(i+1)
	_, serfPort := old.Ports()
	c.Clients[i] = c.start(name, false, 0, c.joinAddrs(), c.modify, func(cfg *config.Config) {
		cfg.Ports.SerfLAN = serfPort
	})
}
