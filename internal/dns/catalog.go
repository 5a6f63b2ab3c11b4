package dns

import (
	"github.com/musterhq/muster/internal/state"
)

// Catalog is what the server reads to answer: the catalog of its
// datacenter. A server agent reads its own state store (StoreCatalog); a
// client agent, which keeps no catalog, asks the servers. Methods are
// called from the server's goroutines, several per question at times, and
// must be safe for concurrent use. They should return within a couple of
// seconds: the client is waiting. An error answers the question SERVFAIL.
type Catalog interface {
	// Node returns the named node (case-insensitive, as the catalog's
	// index is), or nil, nil when there is no such node.
	Node(name string) (*state.Node, error)

	// ServiceInstances returns every instance of the named service (any
	// case), healthy or not, each with its node and with its checks: the
	// node's checks and the instance's own (state.Store.ServiceInstances
	// with withChecks). The server filters by tag and health itself, with
	// ServiceInstance.HealthChecks. The caller may reorder the slice but
	// does not modify the instances.
	ServiceInstances(service string) ([]state.ServiceInstance, error)
}

// StoreCatalog reads the store get returns, as a server does. get is
// called once per read, so a store swapped by a snapshot restore is seen at
// once; if it returns nil, the read fails (SERVFAIL).
func StoreCatalog(get func() *state.Store) Catalog { return storeCatalog(get) }

type storeCatalog func() *state.Store

func (get storeCatalog) Node(name string) (*state.Node, error) {
	st := get()
	if st == nil {
		return nil, errNoStore
	}
	return st.Node(name), nil
}

func (get storeCatalog) ServiceInstances(service string) ([]state.ServiceInstance, error) {
	st := get()
	if st == nil {
		return nil, errNoStore
	}
	_, insts, err := st.ServiceInstances(nil, service, true)
	return insts, err
}
