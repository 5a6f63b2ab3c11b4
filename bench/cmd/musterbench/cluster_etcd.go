package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdMember is one member of the bench's etcd cluster.
type etcdMember struct {
	*node
	endpoint string           // http://127.0.0.1:CLIENT-PORT
	cli      *clientv3.Client // this member only: health, leader, the failover writer
}

// etcdCluster is three etcd members on loopback, each with its own data
// dir, fsync on (etcd's default), etcd's default timing (100 ms
// heartbeat, 1 s election timeout).
type etcdCluster struct {
	members []*etcdMember
}

// startEtcdCluster starts the three members and waits until they agree on
// a leader. The returned peer gives worker w a client of member w%3 only,
// as muster's worker w talks to server w%3.
func startEtcdCluster(ctx context.Context, e *env, dir string) (*etcdCluster, *etcdPeer, error) {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		return nil, nil, fmt.Errorf("etcd not found (apt-get install -y etcd-server): %w", err)
	}
	ports, err := freePorts(2 * clusterSize)
	if err != nil {
		return nil, nil, err
	}
	ec := &etcdCluster{}
	var initial []string
	for i := range clusterSize {
		name := fmt.Sprintf("e%d", i+1)
		initial = append(initial, fmt.Sprintf("%s=http://127.0.0.1:%d", name, ports[2*i+1]))
	}
	for i := range clusterSize {
		name := fmt.Sprintf("e%d", i+1)
		client := fmt.Sprintf("http://127.0.0.1:%d", ports[2*i])
		peer := fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1])
		m := &etcdMember{node: &node{name: "etcd-" + name, dir: dir, bin: bin, args: []string{
			"--name=" + name,
			"--data-dir=" + filepath.Join(dir, "etcd-"+name+"-data"),
			"--listen-client-urls=" + client, "--advertise-client-urls=" + client,
			"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
			"--initial-cluster=" + strings.Join(initial, ","), "--initial-cluster-state=new",
			"--initial-cluster-token=musterbench",
			"--logger=zap", "--log-outputs=stderr", "--log-level=warn",
		}}, endpoint: client}
		ec.members = append(ec.members, m)
	}
	e.closers = append(e.closers, ec.close)
	for _, m := range ec.members {
		if err := m.start(); err != nil {
			return nil, nil, err
		}
		e.nodes = append(e.nodes, m.node)
		if m.cli, err = newEtcdClient(m.endpoint); err != nil {
			return nil, nil, fmt.Errorf("etcd client: %w", err)
		}
	}
	err = poll(ctx, clusterStartTimeout, 50*time.Millisecond, func(ctx context.Context) error {
		_, err := ec.healthy(ctx)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("etcd cluster: %w%s", err, ec.tails())
	}
	peer := &etcdPeer{endpoint: ec.members[0].endpoint}
	e.closers = append(e.closers, peer.close)
	for w := range max(e.cfg.clients, 1) {
		c, err := newEtcdClient(ec.members[w%clusterSize].endpoint)
		if err != nil {
			return nil, nil, fmt.Errorf("etcd client: %w", err)
		}
		peer.clients = append(peer.clients, c)
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := ec.members[0].cli.Status(sctx, ec.members[0].endpoint)
	if err != nil {
		return nil, nil, fmt.Errorf("etcd status: %w", err)
	}
	peer.version = "etcd " + st.Version
	return ec, peer, nil
}

func (ec *etcdCluster) close() {
	for _, m := range ec.members {
		if m.cli != nil {
			m.cli.Close()
		}
	}
}

func (ec *etcdCluster) tails() string {
	var s string
	for _, m := range ec.members {
		if m.p != nil {
			s += fmt.Sprintf("\n%s's log ends:\n%s", m.name, m.p.tail())
		}
	}
	return s
}

// healthy returns the leader's number when every member runs and answers
// Status naming the same leader, which is one of them, and the member list
// holds three voting members (no learner).
func (ec *etcdCluster) healthy(ctx context.Context) (int, error) {
	var leader uint64
	ids := make([]uint64, len(ec.members))
	for i, m := range ec.members {
		if err := m.running(); err != nil {
			return -1, err
		}
		st, err := m.cli.Status(ctx, m.endpoint)
		if err != nil {
			return -1, fmt.Errorf("%s: %w", m.name, err)
		}
		switch {
		case st.Leader == 0:
			return -1, fmt.Errorf("%s knows no leader", m.name)
		case leader != 0 && st.Leader != leader:
			return -1, fmt.Errorf("members disagree on the leader: %x and %x", leader, st.Leader)
		}
		leader, ids[i] = st.Leader, st.Header.MemberId
	}
	ml, err := ec.members[0].cli.MemberList(ctx)
	if err != nil {
		return -1, fmt.Errorf("member list: %w", err)
	}
	voters := 0
	for _, m := range ml.Members {
		if !m.IsLearner {
			voters++
		}
	}
	if voters != len(ec.members) || len(ml.Members) != len(ec.members) {
		return -1, fmt.Errorf("member list: %d members, %d voters", len(ml.Members), voters)
	}
	for i, id := range ids {
		if id == leader {
			return i, nil
		}
	}
	return -1, fmt.Errorf("the leader %x is none of the members", leader)
}

func (ec *etcdCluster) node(i int) *node { return ec.members[i].node }

// restart starts member i again with a new client: the old one's
// connection backs off exponentially after the kill and would reconnect
// late.
func (ec *etcdCluster) restart(i int) error {
	m := ec.members[i]
	if err := m.start(); err != nil {
		return err
	}
	old := m.cli
	cli, err := newEtcdClient(m.endpoint)
	if err != nil {
		return fmt.Errorf("etcd client: %w", err)
	}
	m.cli = cli
	old.Close()
	return nil
}

func (ec *etcdCluster) put(ctx context.Context, i int, key, value string) error {
	_, err := ec.members[i].cli.Put(ctx, key, value)
	return err
}

func (ec *etcdCluster) localGet(ctx context.Context, i int, key string) (string, error) {
	r, err := ec.members[i].cli.Get(ctx, key, clientv3.WithSerializable())
	if err != nil {
		return "", err
	}
	if len(r.Kvs) == 0 {
		return "", errNotFound
	}
	return string(r.Kvs[0].Value), nil
}

func (ec *etcdCluster) readAll(ctx context.Context, prefix string) (map[string]string, error) {
	r, err := ec.members[0].cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(r.Kvs))
	for _, kv := range r.Kvs {
		out[string(kv.Key)] = string(kv.Value)
	}
	return out, nil
}
