package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/musterhq/muster/internal/gossip"
)

// Gossip is the agent's membership in the LAN pool, behind the
// membership endpoints.
type Gossip interface {
	Members() []gossip.Member
	LocalMember() gossip.Member
	// Join contacts each address and returns how many answered.
	Join(addrs []string) (int, error)
	// ForceLeave marks a failed member left (prune: forgets it too).
	ForceLeave(name string, prune bool) error
}

// member is a gossip member as /v1/agent/members shows it (Consul's shape;
// Status is serf's code: 1 alive, 2 leaving, 3 left, 4 failed).
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

// memberJSON converts a pool member. The protocol numbers are Consul's
// (serf's), so Consul tooling that compares them is satisfied; the pool's
// own versions are muster's business.
func memberJSON(m gossip.Member) member {
	tags := m.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return member{
		Name: m.Name, Addr: m.Addr, Port: m.Port, Tags: tags, Status: int(m.Status),
		ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2,
		DelegateMin: 2, DelegateMax: 5, DelegateCur: 4,
	}
}

// self is this agent as a member.
func (s *Server) self() member {
	if s.cfg.Gossip != nil {
		return memberJSON(s.cfg.Gossip.LocalMember())
	}
	a := s.cfg.Agent
	return memberJSON(gossip.Member{Name: a.NodeName, Addr: a.Address, Port: a.SerfPort, Status: gossip.StatusAlive,
		Tags: AgentTags(a)})
}

// AgentTags are the gossip tags Consul agents carry and Consul tooling
// reads ("role" consul for servers, node for clients; "port" the server
// port).
func AgentTags(a Agent) map[string]string {
	role := "node"
	if a.Server {
		role = "consul"
	}
	tags := map[string]string{
		"role": role, "dc": a.Datacenter, "id": a.NodeID, "build": a.Version,
		"vsn": "2", "vsn_min": "2", "vsn_max": "3", "segment": "",
	}
	if a.Server {
		tags["port"] = strconv.Itoa(a.ServerPort)
		tags["raft_vsn"] = "3"
	}
	return tags
}

func (s *Server) agentMembers(w http.ResponseWriter, r *http.Request) (any, error) {
	if query(r).Get("wan") != "" {
		return []member{}, nil // no WAN pool: one datacenter
	}
	if s.cfg.Gossip == nil {
		return []member{s.self()}, nil
	}
	ms := s.cfg.Gossip.Members()
	out := make([]member, 0, len(ms))
	for _, m := range ms {
		out = append(out, memberJSON(m))
	}
	return out, nil
}

// agentJoin is PUT /v1/agent/join/{address}: contact an agent of the
// cluster and merge with its pool.
func (s *Server) agentJoin(w http.ResponseWriter, r *http.Request) (any, error) {
	if query(r).Get("wan") != "" {
		return nil, badRequest("WAN join is not supported: muster runs one datacenter")
	}
	if s.cfg.Gossip == nil {
		return nil, &httpError{http.StatusInternalServerError, CodeInternal, "agent has no gossip pool"}
	}
	addr := r.PathValue("address")
	if _, err := s.cfg.Gossip.Join([]string{addr}); err != nil {
		return nil, &httpError{http.StatusInternalServerError, CodeInternal, fmt.Sprintf("Error joining %s: %v", addr, err)}
	}
	return nil, nil
}

// agentLeave is PUT /v1/agent/leave: leave the pool gracefully and shut
// the agent down.
func (s *Server) agentLeave(w http.ResponseWriter, r *http.Request) (any, error) {
	if s.cfg.Leave == nil {
		return nil, &httpError{http.StatusInternalServerError, CodeInternal, "agent cannot leave"}
	}
	if err := s.cfg.Leave(); err != nil {
		return nil, &httpError{http.StatusInternalServerError, CodeInternal, err.Error()}
	}
	return nil, nil
}

// agentForceLeave is PUT /v1/agent/force-leave/{node}: mark a failed
// member left (its catalog entry goes away, a server leaves Raft).
// Forcing out a member that is alive does nothing, as in Consul.
func (s *Server) agentForceLeave(w http.ResponseWriter, r *http.Request) (any, error) {
	if s.cfg.Gossip == nil {
		return nil, &httpError{http.StatusInternalServerError, CodeInternal, "agent has no gossip pool"}
	}
	node := r.PathValue("node")
	err := s.cfg.Gossip.ForceLeave(node, query(r).Has("prune"))
	switch {
	case err == nil, errors.Is(err, gossip.ErrNotFailed):
		return nil, nil
	case errors.Is(err, gossip.ErrUnknownMember):
		return nil, &httpError{http.StatusInternalServerError, CodeNotFound, fmt.Sprintf("agent: No node found with name '%s'", node)}
	}
	return nil, &httpError{http.StatusInternalServerError, CodeInternal, err.Error()}
}
