package local

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/musterhq/muster/internal/checks"
	"github.com/musterhq/muster/internal/state"
)

// ServiceDefinition is Consul's AgentServiceRegistration: the body of
// PUT /v1/agent/service/register and one entry of a config file's
// "services". Fields muster does not use (Connect, Proxy, ...) are ignored.
type ServiceDefinition struct {
	Kind              string
	ID                string
	Name              string
	Tags              []string
	Port              int
	Address           string
	TaggedAddresses   map[string]state.ServiceAddress
	EnableTagOverride bool
	Meta              map[string]string
	Weights           *state.Weights
	SocketPath        string
	Ports             []state.ServicePort
	Locality          *state.Locality
	Check             *CheckDefinition
	Checks            []*CheckDefinition
}

// CheckDefinition is Consul's AgentServiceCheck / AgentCheckRegistration:
// one check of a service definition, or the body of
// PUT /v1/agent/check/register.
type CheckDefinition struct {
	ID        string
	CheckID   string
	Name      string
	Notes     string
	ServiceID string
	Status    string

	Args                   []string
	ScriptArgs             []string
	HTTP                   string
	Header                 map[string][]string
	Method                 string
	Body                   string
	TLSServerName          string
	TLSSkipVerify          bool
	TCP                    string
	UDP                    string
	GRPC                   string
	GRPCUseTLS             bool
	AliasNode              string
	AliasService           string
	TTL                    state.Duration
	Interval               state.Duration
	Timeout                state.Duration
	SuccessBeforePassing   int
	FailuresBeforeWarning  int
	FailuresBeforeCritical int

	DeregisterCriticalServiceAfter state.Duration

	// Owner "cluster" asks the cluster to run this check while the agent
	// is not alive (state.OwnerCluster; a muster extension).
	Owner string
}

// MetaCheckOwner is the service Meta key that makes every HTTP, TCP, UDP
// and gRPC check of the service cluster-owned ("cluster"), for Consul
// clients that cannot send a check's Owner field.
const MetaCheckOwner = "muster-check-owner"

// Check is a validated check: the catalog row it syncs to, and the runner
// spec that produces its status (nil Spec for an alias check, which follows
// the catalog instead of probing).
type Check struct {
	Health *state.HealthCheck
	Spec   *checks.Spec
	// FromConfig marks a check defined in the agent's config files, where
	// enable_local_script_checks allows scripts.
	FromConfig bool
	// DeregisterAfter removes the check's service once the check has been
	// critical this long (0: never).
	DeregisterAfter time.Duration
}

var validStatus = map[string]bool{state.HealthPassing: true, state.HealthWarning: true, state.HealthCritical: true}

// Service validates d into the service row and its checks, with Consul's
// defaults: ID from the name, weights 1/1, check IDs "service:ID" (or
// "service:ID:N" when there are several) and names "Service 'NAME' check".
func (d *ServiceDefinition) Service() (*state.Service, []*Check, error) {
	if d.Name == "" {
		return nil, nil, fmt.Errorf("local: missing service name")
	}
	if d.Port < 0 || d.Port > 65535 {
		return nil, nil, fmt.Errorf("local: invalid service port %d", d.Port)
	}
	svc := &state.Service{
		Kind: d.Kind, ID: d.ID, Service: d.Name, Tags: d.Tags, Meta: d.Meta, Port: d.Port,
		Address: d.Address, TaggedAddresses: d.TaggedAddresses, EnableTagOverride: d.EnableTagOverride,
		Weights: state.Weights{Passing: 1, Warning: 1}, SocketPath: d.SocketPath, Ports: d.Ports, Locality: d.Locality,
	}
	defaults := 0
	for _, p := range d.Ports {
		if p.Name == "" || p.Port < 1 || p.Port > 65535 {
			return nil, nil, fmt.Errorf("local: invalid port %q %d: a named port needs a name and a port in 1-65535", p.Name, p.Port)
		}
		if p.Default {
			defaults++
		}
	}
	if len(d.Ports) > 0 && defaults > 1 {
		return nil, nil, fmt.Errorf("local: only one of Ports may be the default")
	}
	if svc.ID == "" {
		svc.ID = d.Name
	}
	if owner := d.Meta[MetaCheckOwner]; owner != "" && owner != state.OwnerCluster {
		return nil, nil, fmt.Errorf("local: invalid Meta %q %q: the only owner is %q", MetaCheckOwner, owner, state.OwnerCluster)
	}
	if w := d.Weights; w != nil {
		if w.Passing < 1 || w.Warning < 0 {
			return nil, nil, fmt.Errorf("local: invalid weights: Passing must be at least 1 and Warning at least 0")
		}
		svc.Weights = *w
	}
	defs := d.Checks
	if d.Check != nil {
		defs = append([]*CheckDefinition{d.Check}, defs...)
	}
	var out []*Check
	for i, cd := range defs {
		c := *cd
		c.ServiceID = svc.ID
		if c.id() == "" {
			c.CheckID = "service:" + svc.ID
			if len(defs) > 1 {
				c.CheckID += ":" + strconv.Itoa(i+1)
			}
		}
		if c.Name == "" {
			c.Name = "Service '" + svc.Service + "' check"
		}
		if owner := d.Meta[MetaCheckOwner]; owner != "" && c.Owner == "" && (c.HTTP != "" || c.TCP != "" || c.UDP != "" || c.GRPC != "") {
			c.Owner = owner
		}
		chk, err := c.check()
		if err != nil {
			return nil, nil, fmt.Errorf("local: check %d of service %q: %w", i+1, svc.ID, err)
		}
		chk.Health.ServiceName, chk.Health.ServiceTags = svc.Service, svc.Tags
		out = append(out, chk)
	}
	return svc, out, nil
}

// Check validates a standalone check definition (its ID defaults to its
// name).
func (d *CheckDefinition) Check() (*Check, error) {
	if d.Name == "" {
		return nil, fmt.Errorf("local: missing check name")
	}
	c := *d
	if c.id() == "" {
		c.CheckID = c.Name
	}
	return c.check()
}

func (d *CheckDefinition) id() string {
	if d.CheckID != "" {
		return d.CheckID
	}
	return d.ID
}

func (d *CheckDefinition) check() (*Check, error) {
	status := d.Status
	if status == "" {
		status = state.HealthCritical // Consul's: a check is critical until it runs
	}
	if !validStatus[status] {
		return nil, fmt.Errorf("invalid initial status %q", d.Status)
	}
	args := d.Args
	if len(args) == 0 {
		args = d.ScriptArgs
	}
	header := d.Header
	if len(args) == 0 {
		args = nil // empty and absent compare equal with the catalog's row
	}
	if len(header) == 0 {
		header = nil
	}
	hc := &state.HealthCheck{
		CheckID: d.id(), Name: d.Name, Status: status, Notes: d.Notes, ServiceID: d.ServiceID,
		Definition: state.HealthCheckDefinition{
			HTTP: d.HTTP, TLSServerName: d.TLSServerName, TLSSkipVerify: d.TLSSkipVerify, Header: header,
			Method: d.Method, Body: d.Body, TCP: d.TCP, UDP: d.UDP, GRPC: d.GRPC, GRPCUseTLS: d.GRPCUseTLS,
			AliasNode: d.AliasNode, AliasService: d.AliasService, ScriptArgs: args,
			Interval: d.Interval, Timeout: d.Timeout, TTL: d.TTL,
			DeregisterCriticalServiceAfter: d.DeregisterCriticalServiceAfter,
			Owner:                          d.Owner,
		},
	}
	if d.Owner != "" {
		if d.Owner != state.OwnerCluster {
			return nil, fmt.Errorf("invalid Owner %q: the only owner is %q", d.Owner, state.OwnerCluster)
		}
		if d.HTTP == "" && d.TCP == "" && d.UDP == "" && d.GRPC == "" {
			return nil, fmt.Errorf("invalid Owner %q: the cluster runs only HTTP, TCP, UDP and gRPC checks", d.Owner)
		}
	}
	if d.Interval > 0 {
		hc.Interval = time.Duration(d.Interval).String()
	}
	if d.Timeout > 0 {
		hc.Timeout = time.Duration(d.Timeout).String()
	}
	c := &Check{Health: hc, DeregisterAfter: time.Duration(d.DeregisterCriticalServiceAfter)}
	if d.AliasService != "" || d.AliasNode != "" {
		hc.Type = "alias"
		return c, nil
	}
	spec := &checks.Spec{
		ID: hc.CheckID, HTTP: d.HTTP, Method: d.Method, Header: d.Header, Body: d.Body,
		TLSSkipVerify: d.TLSSkipVerify, TLSServerName: d.TLSServerName, TCP: d.TCP, UDP: d.UDP,
		GRPC: d.GRPC, GRPCUseTLS: d.GRPCUseTLS, TTL: time.Duration(d.TTL), Args: args,
		Interval: time.Duration(d.Interval), Timeout: time.Duration(d.Timeout),
		SuccessBeforePassing: d.SuccessBeforePassing, FailuresBeforeWarning: d.FailuresBeforeWarning,
		FailuresBeforeCritical: d.FailuresBeforeCritical,
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	hc.Type = spec.Type()
	c.Spec = spec
	return c, nil
}

// DecodeConfigServices reads the "service" / "services" entries of a JSON
// config file. Config files spell keys in snake_case ("enable_tag_override",
// "deregister_critical_service_after"); the API in CamelCase. Both decode,
// as in Consul; keys inside meta, header and tagged_addresses are kept as
// written.
func DecodeConfigServices(raw json.RawMessage) ([]*ServiceDefinition, error) {
	return decodeConfigList[ServiceDefinition](raw, "service")
}

// DecodeConfigChecks reads the top-level "check" / "checks" entries of a
// JSON config file, with the same spelling rules as DecodeConfigServices.
func DecodeConfigChecks(raw json.RawMessage) ([]*CheckDefinition, error) {
	return decodeConfigList[CheckDefinition](raw, "check")
}

// decodeConfigList decodes one object or a list of them, keys in
// snake_case or CamelCase.
func decodeConfigList[T any](raw json.RawMessage, what string) ([]*T, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("local: %s definitions: %w", what, err)
	}
	var list []any
	switch x := v.(type) {
	case []any:
		list = x
	case map[string]any:
		list = []any{x}
	default:
		return nil, fmt.Errorf("local: %s definitions: want an object or a list, got %s", what, raw)
	}
	var out []*T
	for i, item := range list {
		b, err := json.Marshal(camelKeys(item))
		if err != nil {
			return nil, err
		}
		var d T
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("local: %s definition %d: %w", what, i+1, err)
		}
		out = append(out, &d)
	}
	return out, nil
}

// freeformKeys hold user-chosen keys that must not be rewritten.
var freeformKeys = map[string]bool{"meta": true, "header": true, "taggedaddresses": true}

// camelKeys drops underscores from object keys so that snake_case matches
// the case-insensitive field names of encoding/json.
func camelKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			nk := strings.ReplaceAll(k, "_", "")
			if freeformKeys[strings.ToLower(nk)] {
				out[nk] = val
			} else {
				out[nk] = camelKeys(val)
			}
		}
		return out
	case []any:
		for i := range x {
			x[i] = camelKeys(x[i])
		}
		return x
	}
	return v
}
