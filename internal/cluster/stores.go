package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// stores are a node's Raft log, stable store and snapshot store.
type stores struct {
	logs   raft.LogStore
	stable raft.StableStore
	snaps  raft.SnapshotStore
	bolt   *raftboltdb.BoltStore // nil in dev mode
}

// openStores opens in-memory stores in dev mode, else a bolt log under
// DataDir/raft (fsynced on every batch of entries) and file snapshots.
func openStores(cfg Config) (*stores, error) {
	if cfg.Dev {
		mem := raft.NewInmemStore()
		return &stores{logs: mem, stable: mem, snaps: raft.NewInmemSnapshotStore()}, nil
	}
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("cluster: a data directory is required outside -dev mode")
	}
	dir := filepath.Join(cfg.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: data dir: %w", err)
	}
	bolt, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		return nil, fmt.Errorf("cluster: open raft log: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, raftLogger(cfg))
	if err != nil {
		bolt.Close()
		return nil, fmt.Errorf("cluster: open snapshots: %w", err)
	}
	return &stores{logs: bolt, stable: bolt, snaps: snaps, bolt: bolt}, nil
}

func (s *stores) close() error {
	if s.bolt != nil {
		return s.bolt.Close()
	}
	return nil
}

// newTransport returns an in-memory transport in dev mode (a one-node
// cluster has no peers to talk to), else Raft's network transport on the
// server port's Raft half.
func newTransport(cfg Config) raft.Transport {
	if cfg.Dev {
		_, t := raft.NewInmemTransport(raft.ServerAddress(cfg.Addr))
		return t
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  raftLayer{cfg.Mux.raft},
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  raftLogger(cfg),
	})
}
