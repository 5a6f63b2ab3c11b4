package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/musterhq/muster/internal/state"
)

// snapshotSave serves GET /v1/snapshot: the whole state as one stream
// (muster's own format; it restores only into muster).
func (s *Server) snapshotSave(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := checkDC(r, s.cfg.Agent.Datacenter); err != nil {
		return nil, err
	}
	o, err := parseQuery(r, s.cfg.Agent.Datacenter)
	if err != nil {
		return nil, err
	}
	if !o.stale {
		if err := s.cfg.Cluster.VerifyLeader(); err != nil {
			return nil, err
		}
	}
	st := s.store()
	snap := st.Snapshot()
	defer snap.Release()
	var buf bytes.Buffer
	if err := snap.Persist(&buf); err != nil {
		return nil, err
	}
	setIndex(w, st.LatestIndex())
	return rawBody{contentType: "application/octet-stream", data: buf.Bytes()}, nil
}

// maxSnapshotSize bounds a restore upload, which is held in memory.
const maxSnapshotSize = 4 << 30

// snapshotRestore serves PUT /v1/snapshot: it replaces the whole state,
// through Raft, with the stream in the body.
func (s *Server) snapshotRestore(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := checkDC(r, s.cfg.Agent.Datacenter); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSnapshotSize))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge("Snapshot is over the %d-byte limit", int64(maxSnapshotSize))
		}
		return nil, badRequest("Reading the snapshot failed: %v", err)
	}
	// Parse it once before Raft sees it: a bad file must not reach the log.
	if _, err := state.Restore(bytes.NewReader(data)); err != nil {
		return nil, badRequest("Snapshot restore failed: %v", err)
	}
	if err := s.cfg.Cluster.Restore(data); err != nil {
		return nil, err
	}
	if s.cfg.OnRestore != nil {
		if err := s.cfg.OnRestore(); err != nil {
			return nil, fmt.Errorf("httpapi: snapshot restored, but rebuilding leader state failed: %w", err)
		}
	}
	return nil, nil
}
