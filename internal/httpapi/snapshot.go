package httpapi

import (
	"bytes"
	"net/http"
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

// snapshotRestore serves PUT /v1/snapshot: it replaces the whole state,
// through Raft, with the stream in the body.
func (s *Server) snapshotRestore(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := checkDC(r, s.cfg.Agent.Datacenter); err != nil {
		return nil, err
	}
	if err := s.cfg.Cluster.Restore(r.Body); err != nil {
		return nil, badRequest("Snapshot restore failed: %v", err)
	}
	return nil, nil
}
