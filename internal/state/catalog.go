package state

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

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
	Definition  HealthCheckDefinition
	CreateIndex uint64
	ModifyIndex uint64
}

// HealthCheckDefinition is what a check runs and how often. The catalog
// keeps it so that every server knows a check's DeregisterCriticalServiceAfter
// and any agent can show the definition. Its JSON form is Consul's.
type HealthCheckDefinition struct {
	HTTP                           string              `json:",omitempty"`
	TLSServerName                  string              `json:",omitempty"`
	TLSSkipVerify                  bool                `json:",omitempty"`
	Header                         map[string][]string `json:",omitempty"`
	Method                         string              `json:",omitempty"`
	Body                           string              `json:",omitempty"`
	TCP                            string              `json:",omitempty"`
	TCPUseTLS                      bool                `json:",omitempty"`
	UDP                            string              `json:",omitempty"`
	GRPC                           string              `json:",omitempty"`
	GRPCUseTLS                     bool                `json:",omitempty"`
	OSService                      string              `json:",omitempty"`
	AliasNode                      string              `json:",omitempty"`
	AliasService                   string              `json:",omitempty"`
	ScriptArgs                     []string            `json:",omitempty"`
	Interval                       Duration
	Timeout                        Duration
	TTL                            Duration `json:",omitempty"`
	DeregisterCriticalServiceAfter Duration
	// Owner is OwnerCluster for a check the cluster runs while its own
	// agent is not alive (a muster extension; "" otherwise).
	Owner string `json:",omitempty"`
}

// OwnerCluster marks a cluster-owned check: an HTTP, TCP, UDP or gRPC
// check that the leader runs in place of its agent while that agent is
// not alive, so that a healthy service outlives the agent that
// registered it.
const OwnerCluster = "cluster"

// kind is the check type a definition implies, Consul's names; "" if none.
func (d *HealthCheckDefinition) kind() string {
	switch {
	case d.HTTP != "":
		return "http"
	case d.TCP != "":
		return "tcp"
	case d.UDP != "":
		return "udp"
	case d.GRPC != "":
		return "grpc"
	case d.OSService != "":
		return "os_service"
	case d.AliasNode != "" || d.AliasService != "":
		return "alias"
	case len(d.ScriptArgs) > 0:
		return "script"
	case d.TTL > 0:
		return "ttl"
	}
	return ""
}

// Duration is a time.Duration whose JSON form is Consul's: a string such
// as "10s". Decoding also takes a number of nanoseconds.
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string, a number of nanoseconds, or null.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case nil:
		*d = 0
	case float64:
		*d = Duration(x)
	case string:
		if x == "" {
			*d = 0
			return nil
		}
		p, err := time.ParseDuration(x)
		if err != nil {
			return fmt.Errorf("state: invalid duration %q", x)
		}
		*d = Duration(p)
	default:
		return fmt.Errorf("state: invalid duration %s", b)
	}
	return nil
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
	if err := tx.bumpIndex(tableNodes); err != nil {
		return err
	}
	return bumpNodeServiceIndexes(tx, c.Node)
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
	if n.Type == "" {
		n.Type = n.Definition.kind()
	}
	if n.ServiceID != "" {
		// A service check takes its service's name and tags, as in Consul.
		raw, err := tx.First(tableServices, "id", n.Node, n.ServiceID)
		if err != nil {
			return fmt.Errorf("state: service lookup: %w", err)
		}
		if raw == nil {
			return fmt.Errorf("%w: check %q names service %q, not on node %q", ErrServiceNotFound, n.CheckID, n.ServiceID, n.Node)
		}
		svc := raw.(*Service)
		n.ServiceName, n.ServiceTags = svc.Service, svc.Tags
	} else {
		n.ServiceName = ""
	}
	raw, err := tx.First(tableChecks, "id", c.Node, c.CheckID)
	if err != nil {
		return fmt.Errorf("state: check lookup: %w", err)
	}
	if raw != nil {
		old := raw.(*HealthCheck)
		n.CreateIndex, n.ModifyIndex = old.CreateIndex, old.ModifyIndex
		if reflect.DeepEqual(old, &n) {
			return nil
		}
		n.ModifyIndex = tx.idx
		if err := bumpCheckIndexes(tx, old); err != nil {
			return err
		}
	} else {
		n.CreateIndex, n.ModifyIndex = tx.idx, tx.idx
	}
	if err := tx.Insert(tableChecks, &n); err != nil {
		return fmt.Errorf("state: check insert: %w", err)
	}
	if err := bumpCheckIndexes(tx, &n); err != nil {
		return err
	}
	if n.Status == HealthCritical {
		return invalidateCheckSessionsTxn(tx, n.Node, n.CheckID)
	}
	return nil
}

// bumpCheckIndexes records a change of check c: in the checks table and in
// the index of every service whose health it affects (its own service, or
// every service of its node for a node check).
func bumpCheckIndexes(tx *txn, c *HealthCheck) error {
	if err := tx.bumpIndex(tableChecks); err != nil {
		return err
	}
	if c.ServiceID != "" {
		return tx.bumpIndex(serviceIndexKey(c.ServiceName))
	}
	return bumpNodeServiceIndexes(tx, c.Node)
}

// serviceIndexKey names the index-table row that records the last change to
// any instance of a service, its checks or its nodes: a blocking read of one
// service watches that row alone.
func serviceIndexKey(name string) string { return "service." + strings.ToLower(name) }

// bumpNodeServiceIndexes records a change that affects the health of every
// service on node.
func bumpNodeServiceIndexes(tx *txn, node string) error {
	it, err := tx.Get(tableServices, "node", node)
	if err != nil {
		return fmt.Errorf("state: node services: %w", err)
	}
	seen := map[string]bool{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		seen[serviceIndexKey(raw.(*Service).Service)] = true
	}
	for k := range seen {
		if err := tx.bumpIndex(k); err != nil {
			return err
		}
	}
	return nil
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

// Registration is one catalog write: a node (left as it is with
// SkipNodeUpdate, if it exists), optionally a service on it, and checks.
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
	// SkipNodeUpdate leaves an existing node as it is; a missing node is
	// created all the same (Consul's rule).
	existing, err := tx.First(tableNodes, "id", r.Node.Node)
	if err != nil {
		return fmt.Errorf("state: node lookup: %w", err)
	}
	if existing == nil || !r.SkipNodeUpdate {
		if err := ensureNodeTxn(tx, &r.Node); err != nil {
			return err
		}
	}
	if r.Service != nil {
		r.Service.Node = r.Node.Node
		if err := ensureServiceTxn(tx, r.Service); err != nil {
			return err
		}
	}
	for _, c := range r.Checks {
		c.Node = r.Node.Node
		if err := ensureCheckTxn(tx, c); err != nil {
			return err
		}
	}
	tx.Commit()
	return nil
}
