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
	Proxy             struct{}
	Connect           struct{}
	CreateIndex       uint64
	ModifyIndex       uint64
}

func newAgentService(s *state.Service) *agentService {
	return &agentService{
		Kind: s.Kind, ID: s.ID, Service: s.Service, Tags: s.Tags, Meta: s.Meta, Port: s.Port,
		Address: s.Address, TaggedAddresses: s.TaggedAddresses, Weights: s.Weights,
		EnableTagOverride: s.EnableTagOverride, CreateIndex: s.CreateIndex, ModifyIndex: s.ModifyIndex,
	}
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
		ServiceKind: s.Kind, ServiceID: s.ID, ServiceName: s.Service, ServiceTags: s.Tags,
		ServiceAddress: s.Address, ServiceTaggedAddresses: s.TaggedAddresses, ServiceWeights: s.Weights,
		ServiceMeta: s.Meta, ServicePort: s.Port, ServiceEnableTagOverride: s.EnableTagOverride,
		CreateIndex: s.CreateIndex, ModifyIndex: s.ModifyIndex,
	}
}

// serviceEntry is Consul's ServiceEntry: an instance with its node and the
// checks that decide its health, as /v1/health/service/{name} shows it.
type serviceEntry struct {
	Node    *state.Node
	Service *agentService
	Checks  []*state.HealthCheck
}
