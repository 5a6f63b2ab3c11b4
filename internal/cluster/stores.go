package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// stores are a node's Raft log, stable store and snapshot store.
type stores struct {
	logs   raft.LogStore
	stable raft.StableStore
	snaps  raft.SnapshotStore
	closer func() error // closes the durable log; nil in dev mode
}

// openStores opens in-memory stores in dev mode, else the durable log
// under DataDir/raft (fsynced on every batch of entries) and file
// snapshots.
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
	st, err := openLog(dir, cfg.LogStore)
	if err != nil {
		return nil, err
	}
	if st.snaps, err = raft.NewFileSnapshotStoreWithLogger(dir, 2, raftLogger(cfg)); err != nil {
		st.close()
		return nil, fmt.Errorf("cluster: open snapshots: %w", err)
	}
	return st, nil
}

// openLog opens the durable log and stable store of backend ("boltdb",
// "wal", or "": the one dir already holds, a WAL for a new one) under dir. A directory holding the other backend's log is
// refused: opening an empty log there would make this server forget its
// cluster and its data.
func openLog(dir, backend string) (*stores, error) {
	boltPath, walDir := filepath.Join(dir, "raft.db"), filepath.Join(dir, "wal")
	has := func(p string) bool { _, err := os.Stat(p); return err == nil }
	if backend == "" {
		// An existing boltdb log keeps its backend; a new log is a WAL.
		backend = "wal"
		if has(boltPath) && !has(walDir) {
			backend = "boltdb"
		}
	}
	switch backend {
	case "boltdb":
		if has(walDir) && !has(boltPath) {
			return nil, fmt.Errorf("cluster: %s holds a raft-wal log: set raft_logstore.backend = \"wal\" (or start with an empty data directory)", dir)
		}
		bolt, err := raftboltdb.NewBoltStore(boltPath)
		if err != nil {
			return nil, fmt.Errorf("cluster: open raft log: %w", err)
		}
		return &stores{logs: bolt, stable: bolt, closer: bolt.Close}, nil
	case "wal":
		if has(boltPath) && !has(walDir) {
			return nil, fmt.Errorf("cluster: %s holds a raft-boltdb log: set raft_logstore.backend = \"boltdb\" (or start with an empty data directory)", dir)
		}
		if err := os.MkdirAll(walDir, 0o700); err != nil {
			return nil, fmt.Errorf("cluster: data dir: %w", err)
		}
		// The WAL does not close its meta store (raft-wal v0.4.0), whose
		// file lock would then block the next open in this process: we
		// hold it and close it ourselves.
		meta := &metadb.BoltMetaDB{}
		w, err := wal.Open(walDir, wal.WithMetaStore(meta))
		if err != nil {
			meta.Close()
			return nil, fmt.Errorf("cluster: open raft log: %w", err)
		}
		return &stores{logs: w, stable: w, closer: func() error {
			return errors.Join(w.Close(), meta.Close())
		}}, nil
	}
	return nil, fmt.Errorf("cluster: unknown raft_logstore backend %q", backend)
}

func (s *stores) close() error {
	if s.closer != nil {
		return s.closer()
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
