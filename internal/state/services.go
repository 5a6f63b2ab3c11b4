package state

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Service is a service instance on a node. Its JSON form follows Consul's
// agent service.
type Service struct {
	Node              string
	Kind              string
	ID                string
	Service           string
	Tags              []string
	Meta              map[string]string
	Port              int
	Address           string
	TaggedAddresses   map[string]ServiceAddress `json:",omitempty"`
	Weights           Weights
	EnableTagOverride bool
	SocketPath        string        `json:",omitempty"`
	Ports             []ServicePort `json:",omitempty"`
	Locality          *Locality     `json:",omitempty"`
	CreateIndex       uint64
	ModifyIndex       uint64
}

// ServicePort is one named port of a service with several (Consul's
// multi-port services).
type ServicePort struct {
	Name    string
	Port    int
	Default bool `json:",omitempty"`
}

// Locality is where a service or node runs.
type Locality struct {
	Region string `json:",omitempty"`
	Zone   string `json:",omitempty"`
}

// ServiceAddress is one tagged address of a service.
type ServiceAddress struct {
	Address string
	Port    int
}

// Weights steer load balancing by health state.
type Weights struct {
	Passing int
	Warning int
}

// ensureServiceTxn inserts or updates a service on an existing node. A write
// that changes nothing is dropped, so it wakes no watcher.
func ensureServiceTxn(tx *txn, svc *Service) error {
	if svc.ID == "" {
		svc.ID = svc.Service
	}
	if svc.Service == "" {
		return fmt.Errorf("%w: missing service name", ErrBadRequest)
	}
	if svc.Weights == (Weights{}) {
		svc.Weights = Weights{Passing: 1, Warning: 1} // Consul's default
	}
	if raw, err := tx.First(tableNodes, "id", svc.Node); err != nil {
		return fmt.Errorf("state: node lookup: %w", err)
	} else if raw == nil {
		return fmt.Errorf("%w: %q", ErrNodeNotFound, svc.Node)
	}
	n := *svc
	raw, err := tx.First(tableServices, "id", svc.Node, svc.ID)
	if err != nil {
		return fmt.Errorf("state: service lookup: %w", err)
	}
	var old *Service
	if raw != nil {
		old = raw.(*Service)
		n.CreateIndex, n.ModifyIndex = old.CreateIndex, old.ModifyIndex
		if reflect.DeepEqual(old, &n) {
			return nil
		}
		n.ModifyIndex = tx.idx
		if err := tx.bumpIndex(serviceIndexKey(old.Service)); err != nil {
			return err
		}
	} else {
		n.CreateIndex, n.ModifyIndex = tx.idx, tx.idx
	}
	if err := tx.Insert(tableServices, &n); err != nil {
		return fmt.Errorf("state: service insert: %w", err)
	}
	if err := tx.bumpIndex(serviceIndexKey(n.Service)); err != nil {
		return err
	}
	if err := tx.bumpIndex(tableServices); err != nil {
		return err
	}
	if old == nil || old.Service == n.Service && slices.Equal(old.Tags, n.Tags) {
		return nil // a new service has no checks yet; unchanged ones are current
	}
	// Its checks carry its name and tags (Consul's HealthCheck shape).
	checks, err := serviceChecksTxn(tx, old)
	if err != nil {
		return err
	}
	for _, c := range checks {
		if err := ensureCheckTxn(tx, c); err != nil {
			return err
		}
	}
	return nil
}

// serviceChecksTxn returns the checks of one service instance, found
// through the checks' service-name index (they carry the name the service
// had when they were written), so a node with a thousand services is not
// scanned.
func serviceChecksTxn(tx *txn, svc *Service) ([]*HealthCheck, error) {
	it, err := tx.Get(tableChecks, "service", svc.Service)
	if err != nil {
		return nil, fmt.Errorf("state: service checks: %w", err)
	}
	var out []*HealthCheck
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if c := raw.(*HealthCheck); c.ServiceID == svc.ID && strings.EqualFold(c.Node, svc.Node) {
			out = append(out, c)
		}
	}
	return out, nil
}

// Deregistration removes, from one node, a check (CheckID), a service and
// its checks (ServiceID), or the whole node with its services and checks
// (neither). Sessions bound to a removed check are invalidated, as in Consul.
type Deregistration struct {
	Node      string
	ServiceID string
	CheckID   string
}

// Deregister applies d. Removing what is not there is not an error.
func (s *Store) Deregister(idx uint64, now int64, d *Deregistration) error {
	tx := s.writeTxn(idx, now)
	defer tx.Abort()
	var err error
	switch {
	case d.CheckID != "":
		err = deleteCheckTxn(tx, d.Node, d.CheckID)
	case d.ServiceID != "":
		err = deleteServiceTxn(tx, d.Node, d.ServiceID)
	default:
		err = deleteNodeTxn(tx, d.Node)
	}
	if err != nil {
		return err
	}
	tx.Commit()
	return nil
}

func deleteCheckTxn(tx *txn, node, id string) error {
	raw, err := tx.First(tableChecks, "id", node, id)
	if err != nil || raw == nil {
		return err
	}
	if err := tx.Delete(tableChecks, raw); err != nil {
		return fmt.Errorf("state: check delete: %w", err)
	}
	if err := bumpCheckIndexes(tx, raw.(*HealthCheck)); err != nil {
		return err
	}
	return invalidateCheckSessionsTxn(tx, node, id)
}

func deleteServiceTxn(tx *txn, node, id string) error {
	raw, err := tx.First(tableServices, "id", node, id)
	if err != nil || raw == nil {
		return err
	}
	checks, err := serviceChecksTxn(tx, raw.(*Service))
	if err != nil {
		return err
	}
	for _, c := range checks {
		if err := deleteCheckTxn(tx, node, c.CheckID); err != nil {
			return err
		}
	}
	if err := tx.Delete(tableServices, raw); err != nil {
		return fmt.Errorf("state: service delete: %w", err)
	}
	if err := tx.bumpIndex(serviceIndexKey(raw.(*Service).Service)); err != nil {
		return err
	}
	return tx.bumpIndex(tableServices)
}

func deleteNodeTxn(tx *txn, node string) error {
	raw, err := tx.First(tableNodes, "id", node)
	if err != nil || raw == nil {
		return err
	}
	var ids []string
	it, err := tx.Get(tableServices, "node", node)
	if err != nil {
		return fmt.Errorf("state: node services: %w", err)
	}
	for r := it.Next(); r != nil; r = it.Next() {
		ids = append(ids, r.(*Service).ID)
	}
	for _, id := range ids {
		if err := deleteServiceTxn(tx, node, id); err != nil {
			return err
		}
	}
	ids = ids[:0]
	it, err = tx.Get(tableChecks, "node", node)
	if err != nil {
		return fmt.Errorf("state: node checks: %w", err)
	}
	for r := it.Next(); r != nil; r = it.Next() {
		ids = append(ids, r.(*HealthCheck).CheckID)
	}
	for _, id := range ids {
		if err := deleteCheckTxn(tx, node, id); err != nil {
			return err
		}
	}
	// Sessions of the node die with it, whatever checks they use.
	it, err = tx.Get(tableSessions, "node", node)
	if err != nil {
		return fmt.Errorf("state: node sessions: %w", err)
	}
	ids = ids[:0]
	for r := it.Next(); r != nil; r = it.Next() {
		ids = append(ids, r.(*Session).ID)
	}
	for _, id := range ids {
		if err := sessionDestroyTxn(tx, id); err != nil {
			return err
		}
	}
	if err := tx.Delete(tableNodes, raw); err != nil {
		return fmt.Errorf("state: node delete: %w", err)
	}
	return tx.bumpIndex(tableNodes)
}
