package httpapi

import "github.com/musterhq/muster/internal/state"

// The JSON shapes of catalog and health reads, Consul's. The store's rows
// carry what muster keeps; these add the fields Consul clients expect
// (Connect and Proxy as empty objects: muster has no service mesh) and drop
// the store's bookkeeping.

// agentService is Consul's AgentService: a service as /v1/txn, the health
// endpoints and the agent endpoints show it.
type agentService struct {
	Kind              string `json:",omitempty"`
	ID                string
	Service           string
	Tags              []string
	Meta              map[string]string
	Port              int
	Address           string
	TaggedAddresses   map[string]state.ServiceAddress `json:",omitempty"`
	Weights           state.Weights
	EnableTagOverride bool
	SocketPath        string              `json:",omitempty"`
	Ports             []state.ServicePort `json:",omitempty"`
	Locality          *state.Locality     `json:",omitempty"`
	Proxy             *struct{}           `json:",omitempty"`
	Connect           *struct{}           `json:",omitempty"`
	CreateIndex       uint64
	ModifyIndex       uint64
	Datacenter        string `json:",omitempty"`
}

// newAgentService renders a catalog service (with Consul's empty Proxy and
// Connect objects).
func newAgentService(s *state.Service) *agentService {
	a := newLocalService(s, "")
	a.Meta, a.Proxy, a.Connect = s.Meta, &struct{}{}, &struct{}{}
	return a
}

// newLocalService renders an agent's own service as its /v1/agent
// endpoints do: Meta never null, the agent's datacenter, no Proxy or
// Connect for a typical service.
func newLocalService(s *state.Service, dc string) *agentService {
	a := &agentService{
		Kind: s.Kind, ID: s.ID, Service: s.Service, Tags: s.Tags, Meta: s.Meta, Port: s.Port,
		Address: s.Address, TaggedAddresses: s.TaggedAddresses, Weights: s.Weights,
		EnableTagOverride: s.EnableTagOverride, SocketPath: s.SocketPath, Ports: s.Ports, Locality: s.Locality,
		CreateIndex: s.CreateIndex, ModifyIndex: s.ModifyIndex, Datacenter: dc,
	}
	if a.Meta == nil {
		a.Meta = map[string]string{}
	}
	return a
}

// catalogService is Consul's CatalogService: one instance with its node,
// flattened, as /v1/catalog/service/{name} shows it.
type catalogService struct {
	ID                       string
	Node                     string
	Address                  string
	Datacenter               string
	TaggedAddresses          map[string]string
	NodeMeta                 map[string]string
	ServiceKind              string
	ServiceID                string
	ServiceName              string
	ServiceTags              []string
	ServiceAddress           string
	ServiceTaggedAddresses   map[string]state.ServiceAddress `json:",omitempty"`
	ServiceWeights           state.Weights
	ServiceMeta              map[string]string
	ServicePort              int
	ServiceEnableTagOverride bool
	ServiceSocketPath        string              `json:",omitempty"`
	ServicePorts             []state.ServicePort `json:",omitempty"`
	ServiceLocality          *state.Locality     `json:",omitempty"`
	ServiceProxy             struct{}
	ServiceConnect           struct{}
	CreateIndex              uint64
	ModifyIndex              uint64
}

func newCatalogService(in state.ServiceInstance) *catalogService {
	n, s := in.Node, in.Service
	return &catalogService{
		ID: n.ID, Node: n.Node, Address: n.Address, Datacenter: n.Datacenter,
		TaggedAddresses: n.TaggedAddresses, NodeMeta: n.Meta,
		ServiceKind: s.Kind, ServiceID: s.ID, ServiceName: s.Service, ServiceTags: tagsJSON(s.Tags),
		ServiceAddress: s.Address, ServiceTaggedAddresses: s.TaggedAddresses, ServiceWeights: s.Weights,
		ServiceMeta: s.Meta, ServicePort: s.Port, ServiceEnableTagOverride: s.EnableTagOverride,
		ServiceSocketPath: s.SocketPath, ServicePorts: s.Ports, ServiceLocality: s.Locality,
		CreateIndex: s.CreateIndex, ModifyIndex: s.ModifyIndex,
	}
}

// checksJSON returns checks as Consul's health and agent endpoints show
// them: ServiceTags [] rather than null (the store keeps nil, so rows
// compare equal however they were written). /v1/txn shows rows as stored.
func checksJSON(in []*state.HealthCheck) []*state.HealthCheck {
	out := make([]*state.HealthCheck, len(in))
	for i, c := range in {
		out[i] = checkJSON(c)
	}
	return out
}

// checkJSON is one check as checksJSON shows it.
func checkJSON(c *state.HealthCheck) *state.HealthCheck {
	if c.ServiceTags != nil {
		return c
	}
	cc := *c
	cc.ServiceTags = []string{}
	return &cc
}

func tagsJSON(tags []string) []string {
	if tags == nil {
		return []string{}
	}
	return tags
}

// serviceEntry is Consul's ServiceEntry: an instance with its node and the
// checks that decide its health, as /v1/health/service/{name} shows it.
type serviceEntry struct {
	Node    *state.Node
	Service *agentService
	Checks  []*state.HealthCheck
}
