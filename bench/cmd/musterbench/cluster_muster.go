package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// clusterStartTimeout bounds the wait for a new cluster to elect a leader
// and list all its voters.
const clusterStartTimeout = time.Minute

// musterServer is one server of the bench's muster cluster.
type musterServer struct {
	*node
	c        *musterClient // HTTP to this server only
	raftAddr string        // 127.0.0.1:SERVER-PORT, as /v1/status/leader names the leader
	serfAddr string        // 127.0.0.1:SERF-LAN-PORT, for -retry-join
}

// musterCluster is three durable muster servers on loopback: -server
// -bootstrap-expect=3, each with its own data dir (the Raft log of
// -raft-logstore, fsynced on every commit), joined through -retry-join.
type musterCluster struct {
	dir, bin string
	servers  []*musterServer
}

// startMusterCluster starts the three servers on free ports and waits
// until they agree on a leader and list three voters. With an empty
// -muster it first builds muster.
func startMusterCluster(ctx context.Context, e *env, dir string) (*musterCluster, error) {
	bin := e.cfg.muster
	if bin == "" {
		var err error
		if bin, err = buildMuster(ctx, dir); err != nil {
			return nil, err
		}
	}
	ports, err := freePorts(3 * clusterSize)
	if err != nil {
		return nil, err
	}
	mc := &musterCluster{dir: dir, bin: bin}
	for i := range clusterSize {
		server, serf, httpPort := ports[3*i], ports[3*i+1], ports[3*i+2]
		name := fmt.Sprintf("s%d", i+1)
		c := newMusterClient("127.0.0.1:" + strconv.Itoa(httpPort))
		c.bin = bin
		mc.servers = append(mc.servers, &musterServer{
			node:     &node{name: "muster-" + name, dir: dir, bin: bin},
			c:        c,
			raftAddr: "127.0.0.1:" + strconv.Itoa(server),
			serfAddr: "127.0.0.1:" + strconv.Itoa(serf),
		})
	}
	for i, s := range mc.servers {
		name := fmt.Sprintf("s%d", i+1)
		data := filepath.Join(dir, "muster-"+name+"-data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			return nil, err
		}
		conf := filepath.Join(dir, "muster-"+name+".json")
		if err := os.WriteFile(conf, []byte(`{"raft_logstore": {"backend": "`+e.cfg.raftLogStore+`"}}`), 0o644); err != nil {
			return nil, err
		}
		port := func(k int) string { return strconv.Itoa(ports[3*i+k]) }
		// -enable-debug serves /debug/pprof on each server's HTTP port, as
		// in the single-server mode; it costs nothing until used.
		s.args = []string{"agent", "-server", "-bootstrap-expect=" + strconv.Itoa(clusterSize),
			"-data-dir=" + data, "-node=" + name, "-bind=127.0.0.1", "-client=127.0.0.1",
			"-server-port=" + port(0), "-serf-lan-port=" + port(1), "-http-port=" + port(2),
			"-dns-port=-1", "-log-level=warn", "-enable-debug", "-config-file=" + conf}
		for j, o := range mc.servers {
			if j != i {
				s.args = append(s.args, "-retry-join="+o.serfAddr)
			}
		}
	}
	for _, s := range mc.servers {
		if err := s.start(); err != nil {
			return nil, err
		}
		e.nodes = append(e.nodes, s.node)
		s.c.pid = s.p.cmd.Process.Pid
		fmt.Fprintf(e.progress, "muster %s: HTTP API and /debug/pprof at %s, server port %s\n", s.name, s.c.base, s.raftAddr)
	}
	err = poll(ctx, clusterStartTimeout, 50*time.Millisecond, func(ctx context.Context) error {
		_, err := mc.healthy(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("muster cluster: %w%s", err, mc.tails())
	}
	return mc, nil
}

// tails quotes the servers' logs for a failed start or recovery.
func (mc *musterCluster) tails() string {
	var s string
	for _, srv := range mc.servers {
		if srv.p != nil {
			s += fmt.Sprintf("\n%s's log ends:\n%s", srv.name, srv.p.tail())
		}
	}
	return s
}

// healthy returns the leader's number when every server runs, names the
// same leader (GET /v1/status/leader, answered by each server itself), and
// lists the three servers as voters in its own Raft configuration (GET
// /v1/operator/raft/configuration?stale, not forwarded).
func (mc *musterCluster) healthy(ctx context.Context) (int, error) {
	var leader string
	want := make([]string, 0, len(mc.servers))
	for _, s := range mc.servers {
		want = append(want, s.raftAddr)
	}
	slices.Sort(want)
	for _, s := range mc.servers {
		if err := s.running(); err != nil {
			return -1, err
		}
		_, b, err := s.c.do(ctx, http.MethodGet, "/v1/status/leader", nil)
		if err != nil {
			return -1, fmt.Errorf("%s: %w", s.name, err)
		}
		var l string
		if err := json.Unmarshal(b, &l); err != nil {
			return -1, fmt.Errorf("%s: GET /v1/status/leader: %q", s.name, b)
		}
		switch {
		case l == "":
			return -1, fmt.Errorf("%s knows no leader", s.name)
		case leader != "" && l != leader:
			return -1, fmt.Errorf("servers disagree on the leader: %s and %s", leader, l)
		}
		leader = l
		_, b, err = s.c.do(ctx, http.MethodGet, "/v1/operator/raft/configuration?stale", nil)
		if err != nil {
			return -1, fmt.Errorf("%s: %w", s.name, err)
		}
		var conf struct {
			Servers []struct {
				Address string
				Voter   bool
			}
		}
		if err := json.Unmarshal(b, &conf); err != nil {
			return -1, fmt.Errorf("%s: GET /v1/operator/raft/configuration: %q", s.name, b)
		}
		var voters []string
		for _, v := range conf.Servers {
			if v.Voter {
				voters = append(voters, v.Address)
			}
		}
		slices.Sort(voters)
		if !slices.Equal(voters, want) {
			return -1, fmt.Errorf("%s's Raft configuration lists voters %v, want %v", s.name, voters, want)
		}
	}
	for i, s := range mc.servers {
		if s.raftAddr == leader {
			return i, nil
		}
	}
	return -1, fmt.Errorf("the leader %s is none of the servers", leader)
}

func (mc *musterCluster) node(i int) *node { return mc.servers[i].node }

func (mc *musterCluster) restart(i int) error {
	s := mc.servers[i]
	if err := s.start(); err != nil {
		return err
	}
	s.c.pid = s.p.cmd.Process.Pid
	return nil
}

func (mc *musterCluster) put(ctx context.Context, i int, key, value string) error {
	return musterKV{c: mc.servers[i].c}.Put(ctx, key, []byte(value))
}

func (mc *musterCluster) localGet(ctx context.Context, i int, key string) (string, error) {
	c := mc.servers[i].c
	e, _, err := c.get(ctx, c.hc, key, url.Values{"stale": {""}})
	if err != nil {
		return "", err
	}
	return string(e.Value), nil
}

func (mc *musterCluster) readAll(ctx context.Context, prefix string) (map[string]string, error) {
	c := mc.servers[0].c
	p := kvPath(prefix, url.Values{"recurse": {""}, "consistent": {""}})
	_, b, err := c.do(ctx, http.MethodGet, p, nil)
	if err != nil {
		return nil, err
	}
	var es []kvEntry
	if err := json.Unmarshal(b, &es); err != nil {
		return nil, fmt.Errorf("GET %s: %v", p, err)
	}
	out := make(map[string]string, len(es))
	for _, e := range es {
		out[e.Key] = string(e.Value)
	}
	return out, nil
}
