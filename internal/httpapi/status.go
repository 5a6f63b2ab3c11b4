package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/hashicorp/go-memdb"

	"github.com/musterhq/muster/internal/state"
)

func (s *Server) statusLeader(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := checkDC(r, s.cfg.Agent.Datacenter); err != nil {
		return nil, err
	}
	return s.cfg.Cluster.Leader(), nil
}

func (s *Server) statusPeers(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := checkDC(r, s.cfg.Agent.Datacenter); err != nil {
		return nil, err
	}
	servers, _, err := s.cfg.Cluster.Servers()
	if err != nil {
		return nil, err
	}
	peers := make([]string, 0, len(servers))
	for _, srv := range servers {
		if srv.Voter {
			peers = append(peers, srv.Address)
		}
	}
	return peers, nil
}

func (s *Server) agentSelf(w http.ResponseWriter, r *http.Request) (any, error) {
	a := s.cfg.Agent
	cfg := map[string]any{
		"Datacenter":        a.Datacenter,
		"PrimaryDatacenter": a.Datacenter,
		"NodeName":          a.NodeName,
		"NodeID":            a.NodeID,
		"Server":            a.Server,
		"Revision":          a.Revision,
		"Version":           a.Version,
		"VersionPrerelease": "",
		"VersionMetadata":   "",
		"BuildDate":         "",
	}
	for k, v := range a.Config {
		cfg[k] = v
	}
	self := s.self()
	debug := map[string]any{"NodeName": a.NodeName, "Datacenter": a.Datacenter, "ServerMode": a.Server}
	if s.cfg.Gossip != nil {
		// Consul's tests and tools join an agent through this address.
		debug["SerfAdvertiseAddrLAN"] = "tcp://" + net.JoinHostPort(self.Addr, strconv.Itoa(self.Port))
	}
	return map[string]any{
		"Config":      cfg,
		"DebugConfig": debug,
		"Coord":       nil,
		"Member":      self,
		"Stats":       s.stats(),
		"Meta":        map[string]string{},
		"xDS":         nil,
	}, nil
}

// stats is /v1/agent/self's Stats: Raft's on a server, none on a client.
func (s *Server) stats() map[string]any {
	if s.cfg.Cluster == nil {
		return map[string]any{}
	}
	return map[string]any{"raft": map[string]string{"applied_index": strconv.FormatUint(s.cfg.Cluster.AppliedIndex(), 10)}}
}

func (s *Server) catalogDatacenters(w http.ResponseWriter, r *http.Request) (any, error) {
	return []string{s.cfg.Agent.Datacenter}, nil
}

func (s *Server) catalogNodes(w http.ResponseWriter, r *http.Request) (any, error) {
	o, f, err := s.parseRead(r)
	if err != nil {
		return nil, err
	}
	var nodes []*state.Node
	err = s.blockingQuery(w, r, o, func(ws memdb.WatchSet, st *state.Store) (uint64, error) {
		idx, n, err := st.Nodes(ws)
		nodes = n
		return idx, err
	})
	if err != nil {
		return nil, err
	}
	kept := make([]*state.Node, 0, len(nodes))
	for _, n := range nodes {
		if f.keep(n, nil) {
			kept = append(kept, n)
		}
	}
	return filterExpr(&f, kept)
}

func (s *Server) healthNode(w http.ResponseWriter, r *http.Request) (any, error) {
	o, f, err := s.parseRead(r)
	if err != nil {
		return nil, err
	}
	node := r.PathValue("node")
	var checks []*state.HealthCheck
	err = s.blockingQuery(w, r, o, func(ws memdb.WatchSet, st *state.Store) (uint64, error) {
		idx, c, err := st.NodeChecks(ws, node)
		checks = c
		return idx, err
	})
	if err != nil {
		return nil, err
	}
	return filterExpr(&f, checksJSON(checks))
}

// raftServer is one entry of /v1/operator/raft/configuration.
type raftServer struct {
	ID              string
	Node            string
	Address         string
	Leader          bool
	ProtocolVersion string
	Voter           bool
	LastIndex       uint64
}

func (s *Server) operatorRaftConfiguration(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := checkDC(r, s.cfg.Agent.Datacenter); err != nil {
		return nil, err
	}
	servers, idx, err := s.cfg.Cluster.Servers()
	if err != nil {
		return nil, err
	}
	out := struct {
		Servers []raftServer
		Index   uint64
	}{Index: idx}
	// A server not in the catalog (yet) shows its ID.
	names := s.catalogNames()
	for _, srv := range servers {
		node := names[srv.ID]
		if node == "" {
			node = srv.ID
		}
		out.Servers = append(out.Servers, raftServer{
			ID: srv.ID, Node: node, Address: srv.Address, Leader: srv.Leader,
			ProtocolVersion: "3", Voter: srv.Voter, LastIndex: s.cfg.Cluster.AppliedIndex(),
		})
	}
	return out, nil
}

// operatorRaftRemovePeer is DELETE /v1/operator/raft/peer?id=|address=:
// remove a server from Raft (a dead one autopilot has not removed).
func (s *Server) operatorRaftRemovePeer(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := checkDC(r, s.cfg.Agent.Datacenter); err != nil {
		return nil, err
	}
	q := query(r)
	id, addr := q.Get("id"), q.Get("address")
	if (id == "") == (addr == "") {
		return nil, badRequest("Must specify either ?id with the server's ID or ?address with IP:port of peer to remove")
	}
	servers, _, err := s.cfg.Cluster.Servers()
	if err != nil {
		return nil, err
	}
	found := false
	for _, srv := range servers {
		if (id != "" && srv.ID == id) || (addr != "" && srv.Address == addr) {
			id, found = srv.ID, true
		}
	}
	if !found {
		what, v := "id", id
		if addr != "" {
			what, v = "address", addr
		}
		return nil, &httpError{http.StatusInternalServerError, CodeNotFound, fmt.Sprintf("%s %q was not found in the Raft configuration", what, v)}
	}
	if err := s.cfg.Cluster.RemoveServer(id); err != nil {
		return nil, err
	}
	return nil, nil
}

func (s *Server) connectCARoots(w http.ResponseWriter, r *http.Request) (any, error) {
	if s.cfg.CARoots == nil {
		return nil, &httpError{http.StatusNotFound, CodeNotFound, "Connect CA is not configured"}
	}
	setIndex(w, 1)
	return s.cfg.CARoots, nil
}
