package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/musterhq/muster/internal/fsm"
	"github.com/musterhq/muster/internal/state"
)

// catalogRegisterBody is Consul's catalog RegisterRequest. Decoding is
// lenient here (unknown fields are ignored): Consul clients send whole
// AgentService and HealthCheck structs with Connect, Proxy, Definition and
// other fields muster does not keep. Service and checks decode straight
// into the store's types; what the store does not derive is validated here.
type catalogRegisterBody struct {
	ID              string
	Node            string
	Address         string
	Datacenter      string
	TaggedAddresses map[string]string
	NodeMeta        map[string]string
	Service         *state.Service
	Check           *state.HealthCheck
	Checks          []*state.HealthCheck
	SkipNodeUpdate  bool
}

var checkStatuses = map[string]bool{"": true, state.HealthPassing: true, state.HealthWarning: true, state.HealthCritical: true}

// newRegistration validates a register body into a state.Registration.
func (s *Server) newRegistration(b *catalogRegisterBody) (*state.Registration, error) {
	if b.Node == "" {
		return nil, badRequest("Must provide node")
	}
	if !b.SkipNodeUpdate && b.Address == "" {
		return nil, badRequest("Must provide address if SkipNodeUpdate is not set")
	}
	if b.Datacenter != "" && b.Datacenter != s.cfg.Agent.Datacenter {
		return nil, &httpError{http.StatusInternalServerError, CodeNotFound, "No path to datacenter"}
	}
	if sv := b.Service; sv != nil {
		if sv.Service == "" {
			return nil, badRequest("Must provide service name with ID")
		}
		if sv.Port < 0 || sv.Port > 65535 {
			return nil, badRequest("Invalid service port %d", sv.Port)
		}
		// Zero weights mean "not set" (the store applies Consul's 1/1).
		if w := sv.Weights; w != (state.Weights{}) && (w.Passing < 1 || w.Warning < 0) {
			return nil, badRequest("Invalid Weights: Passing must be at least 1 and Warning at least 0")
		}
	}
	checks := b.Checks
	if b.Check != nil {
		checks = append([]*state.HealthCheck{b.Check}, checks...)
	}
	for i, c := range checks {
		if c.CheckID == "" {
			c.CheckID = c.Name
		}
		if c.CheckID == "" {
			return nil, badRequest("Check %d: missing CheckID and Name", i)
		}
		if c.Node != "" && c.Node != b.Node {
			return nil, badRequest("Check %q: node %q does not match the registration's %q", c.CheckID, c.Node, b.Node)
		}
		if !checkStatuses[c.Status] {
			return nil, badRequest("Check %q: invalid status %q", c.CheckID, c.Status)
		}
	}
	return &state.Registration{
		Node: state.Node{ID: strings.ToLower(b.ID), Node: b.Node, Address: b.Address, Datacenter: s.cfg.Agent.Datacenter,
			TaggedAddresses: b.TaggedAddresses, Meta: b.NodeMeta},
		SkipNodeUpdate: b.SkipNodeUpdate,
		Service:        b.Service,
		Checks:         checks,
	}, nil
}

// catalogRegister serves PUT /v1/catalog/register. Like Consul, it writes the
// catalog directly; for an agent's own node, the agent's local state is the
// truth and will overwrite it once anti-entropy lands (issue 4).
func (s *Server) catalogRegister(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := checkDC(r, s.cfg.Agent.Datacenter); err != nil {
		return nil, err
	}
	var b catalogRegisterBody
	if err := decodeLenient(r, s.cfg.Limits.MaxBodySize, &b); err != nil {
		return nil, err
	}
	reg, err := s.newRegistration(&b)
	if err != nil {
		return nil, err
	}
	return s.applyCatalog(fsm.RegisterRequestType, reg)
}

// catalogDeregister serves PUT /v1/catalog/deregister: a check (CheckID), a
// service with its checks (ServiceID), or a whole node.
func (s *Server) catalogDeregister(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := checkDC(r, s.cfg.Agent.Datacenter); err != nil {
		return nil, err
	}
	var b struct {
		Node       string
		ServiceID  string
		CheckID    string
		Datacenter string
	}
	if err := decodeLenient(r, s.cfg.Limits.MaxBodySize, &b); err != nil {
		return nil, err
	}
	if b.Node == "" {
		return nil, badRequest("Must provide node")
	}
	return s.applyCatalog(fsm.DeregisterType, &state.Deregistration{Node: b.Node, ServiceID: b.ServiceID, CheckID: b.CheckID})
}

func (s *Server) applyCatalog(t fsm.MessageType, body any) (any, error) {
	out, _, err := s.cfg.Cluster.Apply(t, body)
	if err != nil {
		return nil, err
	}
	if err, ok := out.(error); ok {
		return nil, err
	}
	return true, nil
}

// decodeLenient decodes a JSON body of at most limit bytes, ignoring unknown
// fields.
func decodeLenient(r *http.Request, limit int, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, int64(limit)))
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge("Request body is over the %d-byte limit", limit)
		}
		return badRequest("Request decode failed: %v", err)
	}
	return nil
}
