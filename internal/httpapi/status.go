package httpapi

import (
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

// member is a gossip member as /v1/agent/members shows it (Consul's shape).
type member struct {
	Name        string
	Addr        string
	Port        int
	Tags        map[string]string
	Status      int
	ProtocolMin int
	ProtocolMax int
	ProtocolCur int
	DelegateMin int
	DelegateMax int
	DelegateCur int
}

// Serf member status codes, as Consul reports them.
const memberAlive = 1

func (s *Server) self() member {
	a := s.cfg.Agent
	role := "node"
	if a.Server {
		role = "consul"
	}
	return member{
		Name: a.NodeName,
		Addr: a.Address,
		Port: a.SerfPort,
		Tags: map[string]string{
			"role": role, "dc": a.Datacenter, "id": a.NodeID, "build": a.Version,
			"port": strconv.Itoa(a.ServerPort), "vsn": "2", "vsn_min": "2", "vsn_max": "3",
			"raft_vsn": "3", "segment": "",
		},
		Status:      memberAlive,
		ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2,
		DelegateMin: 2, DelegateMax: 5, DelegateCur: 4,
	}
}

func (s *Server) agentMembers(w http.ResponseWriter, r *http.Request) (any, error) {
	return []member{s.self()}, nil
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
	return map[string]any{
		"Config":      cfg,
		"DebugConfig": map[string]any{"NodeName": a.NodeName, "Datacenter": a.Datacenter, "ServerMode": a.Server},
		"Coord":       nil,
		"Member":      s.self(),
		"Stats":       map[string]any{"raft": map[string]string{"applied_index": strconv.FormatUint(s.cfg.Cluster.AppliedIndex(), 10)}},
		"Meta":        map[string]string{},
		"xDS":         nil,
	}, nil
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
	for _, srv := range servers {
		node := srv.ID
		if srv.ID == s.cfg.Agent.NodeID {
			node = s.cfg.Agent.NodeName
		}
		out.Servers = append(out.Servers, raftServer{
			ID: srv.ID, Node: node, Address: srv.Address, Leader: srv.Leader,
			ProtocolVersion: "3", Voter: srv.Voter, LastIndex: s.cfg.Cluster.AppliedIndex(),
		})
	}
	return out, nil
}

func (s *Server) connectCARoots(w http.ResponseWriter, r *http.Request) (any, error) {
	if s.cfg.CARoots == nil {
		return nil, &httpError{http.StatusNotFound, CodeNotFound, "Connect CA is not configured"}
	}
	setIndex(w, 1)
	return s.cfg.CARoots, nil
}
