package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// etcdPeer is a single-member etcd with one client per bench worker, as
// muster's workers each hold a keep-alive connection.
type etcdPeer struct {
	endpoint string
	clients  []*clientv3.Client
	version  string
}

// startEtcd starts the Debian etcd-server binary as a one-member cluster
// with its data dir under dir. fsync stays on (etcd's default).
func startEtcd(ctx context.Context, dir string, nclients int) (*proc, *etcdPeer, error) {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		return nil, nil, fmt.Errorf("etcd not found (apt-get install -y etcd-server): %w", err)
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, nil, err
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	p, err := startProc("etcd", dir, bin,
		"--name=bench",
		"--data-dir="+filepath.Join(dir, "etcd-data"),
		"--listen-client-urls="+client, "--advertise-client-urls="+client,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer,
		"--initial-cluster=bench="+peer, "--initial-cluster-state=new",
		"--logger=zap", "--log-outputs=stderr", "--log-level=warn",
	)
	if err != nil {
		return nil, nil, err
	}
	e := &etcdPeer{endpoint: client}
	for range max(nclients, 1) {
		c, err := newEtcdClient(client)
		if err != nil {
			e.close()
			p.stop()
			return nil, nil, fmt.Errorf("etcd client: %w", err)
		}
		e.clients = append(e.clients, c)
	}
	err = p.waitReady(ctx, 30*time.Second, func(ctx context.Context) error {
		st, err := e.clients[0].Status(ctx, client)
		if err == nil {
			e.version = "etcd " + st.Version
		}
		return err
	})
	if err != nil {
		e.close()
		p.stop()
		return nil, nil, err
	}
	if out, err := exec.Command(bin, "--version").Output(); err == nil && e.version == "" {
		e.version = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	return p, e, nil
}

// newEtcdClient is a client of the one member at endpoint: without other
// endpoints it never moves to another member.
func newEtcdClient(endpoint string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: 5 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithNoProxy()},
		Logger:      zap.NewNop(),
	})
}

func (e *etcdPeer) close() {
	for _, c := range e.clients {
		c.Close()
	}
}

// client returns worker w's client.
func (e *etcdPeer) client(w int) *clientv3.Client { return e.clients[w%len(e.clients)] }

// etcdKV is the plain KV surface over etcd; serializable reads may be
// served from the member's local state without a quorum round.
type etcdKV struct {
	e            *etcdPeer
	serializable bool
	worker       int
}

func (k etcdKV) Put(ctx context.Context, key string, value []byte) error {
	_, err := k.e.client(k.worker).Put(ctx, key, string(value))
	return err
}

func (k etcdKV) Get(ctx context.Context, key string) ([]byte, error) {
	var opts []clientv3.OpOption
	if k.serializable {
		opts = append(opts, clientv3.WithSerializable())
	}
	r, err := k.e.client(k.worker).Get(ctx, key, opts...)
	if err != nil {
		return nil, err
	}
	if len(r.Kvs) == 0 {
		return nil, errNotFound
	}
	return r.Kvs[0].Value, nil
}
