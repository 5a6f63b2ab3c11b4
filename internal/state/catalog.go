package state

import (
	"fmt"
	"strings"

	"github.com/hashicorp/go-memdb"
)

// Health states of a check.
const (
	HealthPassing  = "passing"
	HealthWarning  = "warning"
	HealthCritical = "critical"
)

// Node is a catalog node. Its JSON form is Consul's.
type Node struct {
	ID              string
	Node            string
	Address         string
	Datacenter      string
	TaggedAddresses map[string]string
	Meta            map[string]string
	CreateIndex     uint64
	ModifyIndex     uint64
}

// HealthCheck is a check on a node or one of its services. Its JSON form is
// Consul's.
type HealthCheck struct {
	Node        string
	CheckID     string
	Name        string
	Status      string
	Notes       string
	Output      string
	ServiceID   string
	ServiceName string
	ServiceTags []string
	Type        string
	Interval    string
	Timeout     string
	ExposedPort int
	Definition  struct{}
	CreateIndex uint64
	ModifyIndex uint64
}

// EnsureNode inserts or updates a node. An update that changes nothing keeps
// the old row and indexes, so it wakes no watcher.
func (s *Store) EnsureNode(idx uint64, now int64, n *Node) error {
	tx := s.writeTxn(idx, now)
	defer tx.Abort()
	if err := ensureNodeTxn(tx, n); err != nil {
		return err
	}
	tx.Commit()
	return nil
}

func ensureNodeTxn(tx *txn, n *Node) error {
	if n.Node == "" {
		return fmt.Errorf("%w: missing node name", ErrBadRequest)
	}
	c := *n
	raw, err := tx.First(tableNodes, "id", n.Node)
	if err != nil {
		return fmt.Errorf("state: node lookup: %w", err)
	}
	if raw != nil {
		old := raw.(*Node)
		c.CreateIndex, c.ModifyIndex = old.CreateIndex, old.ModifyIndex
		if nodeEqual(old, &c) {
			return nil
		}
		c.ModifyIndex = tx.idx
	} else {
		c.CreateIndex, c.ModifyIndex = tx.idx, tx.idx
	}
	if err := tx.Insert(tableNodes, &c); err != nil {
		return fmt.Errorf("state: node insert: %w", err)
	}
	return tx.bumpIndex(tableNodes)
}

func nodeEqual(a, b *Node) bool {
	return a.ID == b.ID && a.Node == b.Node && a.Address == b.Address && a.Datacenter == b.Datacenter &&
		mapEqual(a.TaggedAddresses, b.TaggedAddresses) && mapEqual(a.Meta, b.Meta)
}

func mapEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// EnsureCheck inserts or updates a check on an existing node. A check turning
// critical invalidates the sessions bound to it. A write that changes nothing
// is dropped.
func (s *Store) EnsureCheck(idx uint64, now int64, c *HealthCheck) error {
	tx := s.writeTxn(idx, now)
	defer tx.Abort()
	if err := ensureCheckTxn(tx, c); err != nil {
		return err
	}
	tx.Commit()
	return nil
}

func ensureCheckTxn(tx *txn, c *HealthCheck) error {
	if raw, err := tx.First(tableNodes, "id", c.Node); err != nil {
		return fmt.Errorf("state: node lookup: %w", err)
	} else if raw == nil {
		return fmt.Errorf("%w: %q", ErrNodeNotFound, c.Node)
	}
	n := *c
	if n.Status == "" {
		n.Status = HealthCritical
	}
	if n.ServiceTags == nil {
		n.ServiceTags = []string{} // Consul shows [], never null
	}
	raw, err := tx.First(tableChecks, "id", c.Node, c.CheckID)
	if err != nil {
		return fmt.Errorf("state: check lookup: %w", err)
	}
	if raw != nil {
		old := raw.(*HealthCheck)
		n.CreateIndex, n.ModifyIndex = old.CreateIndex, old.ModifyIndex
		if checkEqual(old, &n) {
			return nil
		}
		n.ModifyIndex = tx.idx
	} else {
		n.CreateIndex, n.ModifyIndex = tx.idx, tx.idx
	}
	if err := tx.Insert(tableChecks, &n); err != nil {
		return fmt.Errorf("state: check insert: %w", err)
	}
	if err := tx.bumpIndex(tableChecks); err != nil {
		return err
	}
	if n.Status == HealthCritical {
		return invalidateCheckSessionsTxn(tx, n.Node, n.CheckID)
	}
	return nil
}

func checkEqual(a, b *HealthCheck) bool {
	return a.Node == b.Node && a.CheckID == b.CheckID && a.Name == b.Name && a.Status == b.Status &&
		a.Notes == b.Notes && a.Output == b.Output && a.ServiceID == b.ServiceID &&
		a.ServiceName == b.ServiceName && strings.Join(a.ServiceTags, "\x00") == strings.Join(b.ServiceTags, "\x00") &&
		a.Type == b.Type && a.Interval == b.Interval && a.Timeout == b.Timeout && a.ExposedPort == b.ExposedPort
}

// invalidateCheckSessionsTxn destroys the sessions of node bound to checkID.
func invalidateCheckSessionsTxn(tx *txn, node, checkID string) error {
	it, err := tx.Get(tableSessions, "node", node)
	if err != nil {
		return fmt.Errorf("state: session list: %w", err)
	}
	var ids []string
	for raw := it.Next(); raw != nil; raw = it.Next() {
		sess := raw.(*Session)
		bound := false
		for _, id := range sess.NodeChecks {
			bound = bound || id == checkID
		}
		for _, sc := range sess.ServiceChecks {
			bound = bound || sc.ID == checkID
		}
		if bound {
			ids = append(ids, sess.ID)
		}
	}
	for _, id := range ids {
		if err := sessionDestroyTxn(tx, id); err != nil {
			return err
		}
	}
	return nil
}

// Nodes returns every node, in name order.
func (s *Store) Nodes(ws memdb.WatchSet) (uint64, []*Node, error) {
	tx := s.db.Txn(false)
	defer tx.Abort()
	it, err := tx.Get(tableNodes, "id")
	if err != nil {
		return 0, nil, fmt.Errorf("state: nodes: %w", err)
	}
	ws.Add(it.WatchCh())
	out := []*Node{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*Node))
	}
	return maxIndex(tx, tableNodes), out, nil
}

// NodeChecks returns the checks of node.
func (s *Store) NodeChecks(ws memdb.WatchSet, node string) (uint64, []*HealthCheck, error) {
	tx := s.db.Txn(false)
	defer tx.Abort()
	it, err := tx.Get(tableChecks, "node", node)
	if err != nil {
		return 0, nil, fmt.Errorf("state: node checks: %w", err)
	}
	ws.Add(it.WatchCh())
	out := []*HealthCheck{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*HealthCheck))
	}
	return maxIndex(tx, tableChecks, tableNodes), out, nil
}

// Registration is one catalog write: a node (unless SkipNodeUpdate, when
// the node must exist already), optionally a service on it, and checks.
type Registration struct {
	Node           Node
	SkipNodeUpdate bool
	Service        *Service
	Checks         []*HealthCheck
}

// Register applies r in one transaction, all or nothing. A check naming a
// ServiceID needs that service on the node; it takes the service's name and
// tags.
func (s *Store) Register(idx uint64, now int64, r *Registration) error {
	tx := s.writeTxn(idx, now)
	defer tx.Abort()
	if r.SkipNodeUpdate {
		if raw, err := tx.First(tableNodes, "id", r.Node.Node); err != nil {
			return fmt.Errorf("state: node lookup: %w", err)
		} else if raw == nil {
			return fmt.Errorf("%w: %q", ErrNodeNotFound, r.Node.Node)
		}
	} else if err := ensureNodeTxn(tx, &r.Node); err != nil {
		return err
	}
	if r.Service != nil {
		r.Service.Node = r.Node.Node
		if err := ensureServiceTxn(tx, r.Service); err != nil {
			return err
		}
	}
	for _, c := range r.Checks {
		c.Node = r.Node.Node
		if c.ServiceID != "" {
			raw, err := tx.First(tableServices, "id", c.Node, c.ServiceID)
			if err != nil {
				return fmt.Errorf("state: service lookup: %w", err)
			}
			if raw == nil {
				return fmt.Errorf("%w: check %q names service %q, not on node %q", ErrServiceNotFound, c.CheckID, c.ServiceID, c.Node)
			}
			svc := raw.(*Service)
			c.ServiceName, c.ServiceTags = svc.Service, svc.Tags
		}
		if err := ensureCheckTxn(tx, c); err != nil {
			return err
		}
	}
	tx.Commit()
	return nil
}
