package agent

import (
	"errors"
	"fmt"

	"github.com/musterhq/muster/internal/fsm"
	"github.com/musterhq/muster/internal/gossip"
	"github.com/musterhq/muster/internal/state"
)

// Outputs of the serfHealth check, Consul's texts.
const (
	serfAliveOutput  = "Agent alive and reachable"
	serfFailedOutput = "Agent not live or unreachable"
	// serfLeftOutput is muster's: a node that left but keeps services
	// whose checks the cluster runs.
	serfLeftOutput = "Agent left the cluster; the cluster runs its services' checks"
)

// reconcile is the leader's membership duty, run when it takes office, on
// every membership event and every reconcileInterval: each member of the
// pool is made to match the catalog and Raft.
//   - alive: the node is in the catalog with a passing serfHealth check (a
//     server also with its "consul" service), and a server is a Raft voter;
//   - failed: serfHealth is critical, which invalidates the sessions bound
//     to it (their locks are released, with lock-delay); a failed server
//     is removed from Raft only once enough others remain (autopilot's
//     dead-server cleanup);
//   - left (or forced out): the node leaves the catalog, a server leaves
//     Raft.
//
// Catalog nodes with a serfHealth check that the pool no longer knows
// (reaped) are removed too. Without a pool (dev mode with gossip off) only
// this agent's own node is registered.
func (a *Agent) reconcile() error {
	if a.pool == nil {
		return a.registerMember(gossip.Member{Name: a.cfg.NodeName, Addr: a.advertiseAddr(), Status: gossip.StatusAlive, Tags: map[string]string{"dc": a.cfg.Datacenter}})
	}
	var errs []error
	members := a.pool.Members()
	known := map[string]bool{}
	for _, m := range members {
		if m.Tags["dc"] != a.cfg.Datacenter {
			continue
		}
		known[m.Name] = true
		switch m.Status {
		case gossip.StatusAlive, gossip.StatusLeaving:
			errs = append(errs, a.registerMember(m))
			if s, ok := a.asServer(m); ok {
				errs = append(errs, a.ensureVoter(s))
			}
		case gossip.StatusFailed:
			errs = append(errs, a.failMember(m))
			if s, ok := a.asServer(m); ok {
				errs = append(errs, a.maybeRemoveDeadServer(s, members))
			}
		case gossip.StatusLeft:
			errs = append(errs, a.removeMember(m.Name))
			if s, ok := a.asServer(m); ok {
				errs = append(errs, a.removeServer(s))
			}
		}
	}
	_, nodes, err := a.fsm.State().Nodes(nil)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if !known[n.Node] && a.serfCheck(n.Node) != nil {
			errs = append(errs, a.removeMember(n.Node))
		}
	}
	return errors.Join(errs...)
}

// serfCheck is a node's serfHealth check in the catalog, or nil.
func (a *Agent) serfCheck(node string) *state.HealthCheck {
	_, checks, err := a.fsm.State().NodeChecks(nil, node)
	if err != nil {
		return nil
	}
	for _, c := range checks {
		if c.CheckID == state.SerfCheckID {
			return c
		}
	}
	return nil
}

// registerMember puts a live member in the catalog with a passing
// serfHealth check, unless it is there already. The member's own agent
// keeps the rest of its node row (meta, tagged addresses) by anti-entropy.
func (a *Agent) registerMember(m gossip.Member) error {
	st := a.fsm.State()
	existing := st.Node(m.Name)
	serf := a.serfCheck(m.Name)
	isServer := m.Tags["role"] == "consul"
	self := m.Name == a.cfg.NodeName
	if existing != nil && existing.Address == m.Addr && serf != nil && serf.Status == state.HealthPassing &&
		(!(isServer || (self && a.cfg.Server)) || a.hasConsulService(m.Name)) {
		return nil
	}
	reg := &fsm.RegisterRequest{
		Node:           state.Node{ID: m.Tags["id"], Node: m.Name, Address: m.Addr, Datacenter: a.cfg.Datacenter},
		SkipNodeUpdate: existing != nil && existing.Address == m.Addr,
		Checks:         []*state.HealthCheck{serfHealthCheck(state.HealthPassing, serfAliveOutput)},
	}
	if self {
		reg.Node, reg.SkipNodeUpdate = a.localNode(), false
	}
	if isServer || (self && a.cfg.Server) {
		reg.Service = &state.Service{
			ID: "consul", Service: "consul", Port: a.serverPort(m),
			Meta: map[string]string{"raft_version": "3", "version": m.Tags["build"]},
		}
		if self {
			reg.Service.Meta["version"] = Version
		}
	}
	return a.applyOK(fsm.RegisterRequestType, reg)
}

// serverPort is a server member's server port (0 when unknown).
func (a *Agent) serverPort(m gossip.Member) int {
	if m.Name == a.cfg.NodeName {
		return a.apiAgent.ServerPort
	}
	var p int
	fmt.Sscanf(m.Tags["port"], "%d", &p)
	return p
}

func (a *Agent) hasConsulService(node string) bool {
	_, _, svcs, err := a.fsm.State().NodeServices(nil, node)
	if err != nil {
		return false
	}
	for _, s := range svcs {
		if s.ID == "consul" {
			return true
		}
	}
	return false
}

// failMember turns a failed member's serfHealth critical.
func (a *Agent) failMember(m gossip.Member) error {
	if serf := a.serfCheck(m.Name); serf != nil && serf.Status == state.HealthCritical {
		return nil
	}
	return a.setSerfHealth(state.Node{ID: m.Tags["id"], Node: m.Name, Address: m.Addr, Datacenter: a.cfg.Datacenter},
		state.HealthCritical, serfFailedOutput)
}

// serfHealthCheck is a node's serfHealth row.
func serfHealthCheck(status, output string) *state.HealthCheck {
	return &state.HealthCheck{
		CheckID: state.SerfCheckID, Name: "Serf Health Status", Status: status,
		Output: output, ServiceTags: []string{}, // Consul shows []
	}
}

// setSerfHealth writes node's serfHealth check, creating the node when the
// catalog lacks it and leaving an existing node row as it is.
func (a *Agent) setSerfHealth(node state.Node, status, output string) error {
	return a.applyOK(fsm.RegisterRequestType, &fsm.RegisterRequest{
		Node: node, SkipNodeUpdate: a.fsm.State().Node(node.Node) != nil,
		Checks: []*state.HealthCheck{serfHealthCheck(status, output)},
	})
}

// removeMember deletes a node that left from the catalog. A node whose
// services have cluster-owned checks stays, with only those services and a
// critical serfHealth: the leader runs their checks now (package adopt),
// and the node goes once they are gone.
func (a *Agent) removeMember(name string) error {
	st := a.fsm.State()
	if st.Node(name) == nil {
		return nil
	}
	_, checks, err := st.NodeChecks(nil, name)
	if err != nil {
		return err
	}
	owned := map[string]bool{} // services with a cluster-owned check
	for _, c := range checks {
		if c.Definition.Owner == state.OwnerCluster && c.ServiceID != "" {
			owned[c.ServiceID] = true
		}
	}
	if len(owned) == 0 {
		a.logger.Info("agent: removing a departed node from the catalog", "node", name)
		return a.applyOK(fsm.DeregisterType, &state.Deregistration{Node: name})
	}
	_, _, svcs, err := st.NodeServices(nil, name)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range svcs {
		if !owned[s.ID] {
			errs = append(errs, a.applyOK(fsm.DeregisterType, &state.Deregistration{Node: name, ServiceID: s.ID}))
		}
	}
	for _, c := range checks {
		if c.ServiceID == "" && c.CheckID != state.SerfCheckID {
			errs = append(errs, a.applyOK(fsm.DeregisterType, &state.Deregistration{Node: name, CheckID: c.CheckID}))
		}
	}
	if serf := a.serfCheck(name); serf == nil || serf.Status != state.HealthCritical || serf.Output != serfLeftOutput {
		errs = append(errs, a.setSerfHealth(state.Node{Node: name}, state.HealthCritical, serfLeftOutput))
	}
	return errors.Join(errs...)
}

// ensureVoter adds a live server to Raft, once the cluster exists.
func (a *Agent) ensureVoter(s serverInfo) error {
	if a.cluster == nil || s.ID == a.cfg.NodeID {
		return nil
	}
	servers, _, err := a.cluster.Servers()
	if err != nil {
		return err
	}
	for _, srv := range servers {
		if srv.ID == s.ID && srv.Address == s.Addr && srv.Voter {
			return nil
		}
	}
	a.logger.Info("agent: adding a server to raft", "server", s.Name, "addr", s.Addr)
	return a.cluster.AddVoter(s.ID, s.Addr)
}

// removeServer removes a server that left from Raft.
func (a *Agent) removeServer(s serverInfo) error {
	if a.cluster == nil || s.ID == a.cfg.NodeID {
		return nil
	}
	servers, _, err := a.cluster.Servers()
	if err != nil {
		return err
	}
	for _, srv := range servers {
		if srv.ID == s.ID {
			a.logger.Info("agent: removing a departed server from raft", "server", s.Name)
			return a.cluster.RemoveServer(s.ID)
		}
	}
	return nil
}

// maybeRemoveDeadServer is autopilot's dead-server cleanup: a failed server
// leaves Raft only when the live voters without it still number at least
// bootstrap_expect (a replacement has joined) and form a majority. A
// server that merely restarts is never removed.
func (a *Agent) maybeRemoveDeadServer(dead serverInfo, members []gossip.Member) error {
	if a.cluster == nil || a.cfg.BootstrapExpect == 0 {
		return nil
	}
	servers, _, err := a.cluster.Servers()
	if err != nil {
		return err
	}
	alive := map[string]bool{}
	for _, m := range members {
		if s, ok := a.asServer(m); ok && m.Status == gossip.StatusAlive {
			alive[s.ID] = true
		}
	}
	inConfig, liveVoters, voters := false, 0, 0
	for _, srv := range servers {
		if !srv.Voter {
			continue
		}
		voters++
		if srv.ID == dead.ID {
			inConfig = true
		} else if alive[srv.ID] {
			liveVoters++
		}
	}
	if !inConfig || liveVoters < a.cfg.BootstrapExpect || liveVoters <= (voters-1)/2 {
		return nil
	}
	a.logger.Info("agent: removing a dead server from raft", "server", dead.Name)
	return a.cluster.RemoveServer(dead.ID)
}

// applyOK applies a command on the local Raft leader and returns the
// FSM's refusal as an error.
func (a *Agent) applyOK(t fsm.MessageType, body any) error {
	out, _, err := a.cluster.Apply(t, body)
	if err != nil {
		return err
	}
	if err, ok := out.(error); ok {
		return err
	}
	return nil
}
