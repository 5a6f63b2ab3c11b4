package state

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
)

// ServiceInstance is one instance of a service with its node and, from
// health reads, the checks that decide its health: the node's own checks and
// the instance's.
type ServiceInstance struct {
	Node    *Node
	Service *Service
	Checks  []*HealthCheck
}

// HealthChecks are the checks that decide the instance's health: all of
// its checks, except that an instance with a cluster-owned check does not
// depend on its agent's serfHealth, since the cluster runs its checks
// while the agent is gone. Checks still lists every check.
func (in ServiceInstance) HealthChecks() []*HealthCheck {
	owned := false
	for _, c := range in.Checks {
		if c.Definition.Owner == OwnerCluster {
			owned = true
			break
		}
	}
	if !owned {
		return in.Checks
	}
	out := make([]*HealthCheck, 0, len(in.Checks))
	for _, c := range in.Checks {
		if c.CheckID != SerfCheckID {
			out = append(out, c)
		}
	}
	return out
}

// AllServices returns every service instance with its node, ordered by node
// then service ID, and the index of the services and nodes tables.
func (s *Store) AllServices(ws memdb.WatchSet) (uint64, []ServiceInstance, error) {
	tx := s.db.Txn(false)
	defer tx.Abort()
	it, err := tx.Get(tableServices, "id")
	if err != nil {
		return 0, nil, fmt.Errorf("state: services: %w", err)
	}
	ws.Add(it.WatchCh())
	nodes, err := tx.Get(tableNodes, "id")
	if err != nil {
		return 0, nil, fmt.Errorf("state: nodes: %w", err)
	}
	ws.Add(nodes.WatchCh()) // node meta filters depend on nodes
	var out []ServiceInstance
	for raw := it.Next(); raw != nil; raw = it.Next() {
		svc := raw.(*Service)
		n, err := nodeTxn(tx, svc.Node)
		if err != nil {
			return 0, nil, err
		}
		out = append(out, ServiceInstance{Node: n, Service: svc})
	}
	return maxIndex(tx, tableServices, tableNodes), out, nil
}

// ServiceInstances returns the instances of the named service (case
// insensitive), ordered by node then service ID (the index's order), with their checks when
// withChecks is set. The index is the service's own: it moves only when an
// instance, one of its checks or one of its nodes changes, and ws is armed
// to fire only then.
func (s *Store) ServiceInstances(ws memdb.WatchSet, name string, withChecks bool) (uint64, []ServiceInstance, error) {
	tx := s.db.Txn(false)
	defer tx.Abort()
	idx, err := serviceIndexTxn(tx, ws, name)
	if err != nil {
		return 0, nil, err
	}
	it, err := tx.Get(tableServices, "service", name)
	if err != nil {
		return 0, nil, fmt.Errorf("state: service instances: %w", err)
	}
	var out []ServiceInstance
	for raw := it.Next(); raw != nil; raw = it.Next() {
		svc := raw.(*Service)
		n, err := nodeTxn(tx, svc.Node)
		if err != nil {
			return 0, nil, err
		}
		inst := ServiceInstance{Node: n, Service: svc}
		if withChecks {
			if inst.Checks, err = instanceChecksTxn(tx, svc); err != nil {
				return 0, nil, err
			}
		}
		out = append(out, inst)
	}
	return idx, out, nil
}

// ServiceIndex returns the index ServiceInstances would report for the
// named service, arming ws the same way, without reading the instances: a
// reader with a cached answer for that index needs nothing more.
func (s *Store) ServiceIndex(ws memdb.WatchSet, name string) (uint64, error) {
	tx := s.db.Txn(false)
	defer tx.Abort()
	return serviceIndexTxn(tx, ws, name)
}

// ServiceChecks returns the checks of every instance of the named service.
// Its index and watch are the service's own, as in ServiceInstances.
func (s *Store) ServiceChecks(ws memdb.WatchSet, name string) (uint64, []*HealthCheck, error) {
	tx := s.db.Txn(false)
	defer tx.Abort()
	idx, err := serviceIndexTxn(tx, ws, name)
	if err != nil {
		return 0, nil, err
	}
	it, err := tx.Get(tableChecks, "service", name)
	if err != nil {
		return 0, nil, fmt.Errorf("state: service checks: %w", err)
	}
	out := []*HealthCheck{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*HealthCheck))
	}
	return idx, out, nil
}

// ChecksInState returns the checks whose status is status, or every check
// for "any".
func (s *Store) ChecksInState(ws memdb.WatchSet, status string) (uint64, []*HealthCheck, error) {
	tx := s.db.Txn(false)
	defer tx.Abort()
	it, err := tx.Get(tableChecks, "id")
	if err != nil {
		return 0, nil, fmt.Errorf("state: checks in state: %w", err)
	}
	ws.Add(it.WatchCh())
	out := []*HealthCheck{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if c := raw.(*HealthCheck); status == "any" || c.Status == status {
			out = append(out, c)
		}
	}
	return maxIndex(tx, tableChecks), out, nil
}

// NodeServices returns a node (nil if missing) and its services in ID
// order.
func (s *Store) NodeServices(ws memdb.WatchSet, node string) (uint64, *Node, []*Service, error) {
	tx := s.db.Txn(false)
	defer tx.Abort()
	idx := maxIndex(tx, tableNodes, tableServices)
	ch, raw, err := tx.FirstWatch(tableNodes, "id", node)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("state: node lookup: %w", err)
	}
	ws.Add(ch)
	if raw == nil {
		return idx, nil, nil, nil
	}
	it, err := tx.Get(tableServices, "node", node)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("state: node services: %w", err)
	}
	ws.Add(it.WatchCh())
	var out []*Service
	for r := it.Next(); r != nil; r = it.Next() {
		out = append(out, r.(*Service))
	}
	return idx, raw.(*Node), out, nil
}

// Node returns the named node, or nil.
func (s *Store) Node(name string) *Node {
	tx := s.db.Txn(false)
	defer tx.Abort()
	raw, err := tx.First(tableNodes, "id", name)
	if err != nil || raw == nil {
		return nil
	}
	return raw.(*Node)
}

// serviceIndexTxn arms ws on a service's index row and returns the index a
// blocking reader compares: the row's, or the services table's for a
// service never seen.
func serviceIndexTxn(tx *memdb.Txn, ws memdb.WatchSet, name string) (uint64, error) {
	ch, raw, err := tx.FirstWatch(tableIndex, "id", serviceIndexKey(name))
	if err != nil {
		return 0, fmt.Errorf("state: service index: %w", err)
	}
	ws.Add(ch)
	if raw != nil {
		return raw.(*IndexEntry).Value, nil
	}
	return maxIndex(tx, tableServices), nil
}

func nodeTxn(tx *memdb.Txn, name string) (*Node, error) {
	raw, err := tx.First(tableNodes, "id", name)
	if err != nil {
		return nil, fmt.Errorf("state: node lookup: %w", err)
	}
	if raw == nil {
		// The FSM never leaves a service without its node.
		return nil, fmt.Errorf("state: service on missing node %q", name)
	}
	return raw.(*Node), nil
}

// instanceChecksTxn returns the checks of svc's node that apply to svc: node
// checks and svc's own, in check ID order.
func instanceChecksTxn(tx *memdb.Txn, svc *Service) ([]*HealthCheck, error) {
	it, err := tx.Get(tableChecks, "node", svc.Node)
	if err != nil {
		return nil, fmt.Errorf("state: instance checks: %w", err)
	}
	out := []*HealthCheck{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if c := raw.(*HealthCheck); c.ServiceID == "" || c.ServiceID == svc.ID {
			out = append(out, c)
		}
	}
	return out, nil
}
