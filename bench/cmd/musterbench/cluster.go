package main

import (
	"context"
	"fmt"
)

// clusterSize is the number of servers of each -cluster cluster.
const clusterSize = 3

// node is one server process: in a cluster the bench may SIGKILL it and
// restart it with the same flags and data dir.
type node struct {
	name   string // also its log's name: DIR/NAME.log
	dir    string
	bin    string
	args   []string
	p      *proc
	killed bool // SIGKILLed by the bench and not restarted yet
}

// start starts the node's process, or restarts it after kill; a restart
// appends to the same log.
func (n *node) start() error {
	p, err := startProc(n.name, n.dir, n.bin, n.args...)
	if err != nil {
		return err
	}
	n.p, n.killed = p, false
	return nil
}

// kill crashes the node (SIGKILL) and waits until it is gone.
func (n *node) kill() {
	n.killed = true
	n.p.kill()
}

// running reports an error unless the node's process is up.
func (n *node) running() error {
	switch {
	case n.p == nil || n.killed:
		return fmt.Errorf("%s is down (killed by the bench)", n.name)
	case n.p.exited():
		return n.p.exitErr()
	}
	return nil
}

// crashed returns the exit of a server that stopped without the bench
// killing it, nil otherwise.
func (n *node) crashed() error {
	if n.p == nil || n.killed || !n.p.exited() {
		return nil
	}
	return n.p.exitErr()
}

// startClusters starts, for -cluster, three durable muster servers and
// three etcd members, and returns their version lines. Every process is in
// e.nodes as soon as it runs, so a failed start still stops them all.
func (e *env) startClusters(ctx context.Context, dir string) ([]string, error) {
	var versions []string
	for _, s := range e.cfg.systems {
		fmt.Fprintf(e.progress, "starting %s cluster (%d servers)...\n", s, clusterSize)
		switch s {
		case "muster":
			mc, err := startMusterCluster(ctx, e, dir)
			if err != nil {
				return nil, err
			}
			e.mc, e.muster = mc, mc.servers[0].c
			versions = append(versions, fmt.Sprintf("%s, %d servers (raft log %s, fsync on)", e.muster.version(), clusterSize, logStoreName(e.cfg.raftLogStore)))
		case "etcd":
			ec, peer, err := startEtcdCluster(ctx, e, dir)
			if err != nil {
				return nil, err
			}
			e.ec, e.etcd = ec, peer
			versions = append(versions, fmt.Sprintf("%s, %d members (fsync on)", peer.version, clusterSize))
		}
	}
	return versions, nil
}

// failoverCluster is a three-node cluster as the failover workload drives
// it. Nodes are numbered 0..2; worker w of the other workloads talks to
// node w%3.
type failoverCluster interface {
	// healthy returns the leader's number when all three nodes run, name
	// the same leader and list three voters.
	healthy(ctx context.Context) (int, error)
	node(i int) *node
	// restart starts node i again after a kill.
	restart(i int) error
	// put writes key through node i and returns once acknowledged.
	put(ctx context.Context, i int, key, value string) error
	// localGet reads key from node i's own state (muster ?stale, etcd
	// serializable); errNotFound if it is not there.
	localGet(ctx context.Context, i int, key string) (string, error)
	// readAll reads every key under prefix through the leader
	// (linearizable).
	readAll(ctx context.Context, prefix string) (map[string]string, error)
	// tails quotes the nodes' logs, for a FAIL.
	tails() string
}

// logStoreName names the muster servers' Raft log for the header.
func logStoreName(backend string) string {
	switch backend {
	case "boltdb":
		return "raft-boltdb"
	case "wal":
		return "raft-wal"
	}
	return "muster's default: raft-wal for a new data dir"
}
