package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/musterhq/muster/internal/checks"
	"github.com/musterhq/muster/internal/local"
	"github.com/musterhq/muster/internal/state"
)

// The agent endpoints manage the agent's own services and checks (package
// local); the agent syncs them to the catalog (anti-entropy). They answer
// from the agent's local state, not the catalog, as in Consul.

// synced answers a local change once it has reached the catalog, so a
// client that registers and then reads the catalog or health endpoints sees
// its service. If the sync fails (no leader), the change stands locally and
// anti-entropy retries it; the answer is still a success, as in Consul.
//
// sync writes just the entity the call changed (Local.SyncService or
// SyncCheck), so concurrent calls for different services go to Raft in
// parallel.
func (s *Server) synced(err error, sync func() error) error {
	if err != nil {
		return localError(err)
	}
	if err := sync(); err != nil {
		s.cfg.Logger.Warn("http: local change not yet in the catalog; anti-entropy will retry", "err", err)
	}
	return nil
}

// agentServiceRegister serves PUT /v1/agent/service/register.
func (s *Server) agentServiceRegister(w http.ResponseWriter, r *http.Request) (any, error) {
	var d local.ServiceDefinition
	if err := decodeLenient(r, s.cfg.Limits.MaxBodySize, &d); err != nil {
		return nil, err
	}
	svc, chks, err := d.Service()
	if err != nil {
		return nil, badRequest("Invalid service: %v", trimPkg(err))
	}
	if err := s.cfg.Local.AddService(svc, chks, queryFlag(r, "replace-existing-checks")); err != nil {
		return nil, localError(err)
	}
	s.persist(s.cfg.Local.Persist().SaveService(svc.ID, &d))
	return nil, s.synced(nil, func() error { return s.cfg.Local.SyncService(svc.ID) })
}

// persist logs a failure to keep an API registration in the data
// directory: the registration stands, but a restart would lose it.
func (s *Server) persist(err error) {
	if err != nil {
		s.cfg.Logger.Warn("http: registration not saved in the data directory; it will not survive a restart", "err", err)
	}
}

// agentServiceDeregister serves PUT /v1/agent/service/deregister/{id}.
func (s *Server) agentServiceDeregister(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	if err := s.cfg.Local.RemoveService(id); err != nil {
		return nil, localError(err)
	}
	s.persist(s.cfg.Local.Persist().DeleteService(id))
	return nil, s.synced(nil, func() error { return s.cfg.Local.SyncService(id) })
}

// agentServiceMaintenance serves PUT /v1/agent/service/maintenance/{id}.
func (s *Server) agentServiceMaintenance(w http.ResponseWriter, r *http.Request) (any, error) {
	enable, err := maintenanceFlag(r)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	return nil, s.synced(s.cfg.Local.SetServiceMaintenance(id, enable, query(r).Get("reason")),
		func() error { return s.cfg.Local.SyncCheck(local.ServiceMaintenanceID(id)) })
}

// agentNodeMaintenance serves PUT /v1/agent/maintenance.
func (s *Server) agentNodeMaintenance(w http.ResponseWriter, r *http.Request) (any, error) {
	enable, err := maintenanceFlag(r)
	if err != nil {
		return nil, err
	}
	return nil, s.synced(s.cfg.Local.SetNodeMaintenance(enable, query(r).Get("reason")),
		func() error { return s.cfg.Local.SyncCheck(local.NodeMaintenanceID) })
}

func maintenanceFlag(r *http.Request) (bool, error) {
	switch v := query(r).Get("enable"); v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "":
		return false, badRequest("Missing value for enable")
	default:
		return false, badRequest("Invalid value for enable: %q", v)
	}
}

// agentServices serves GET /v1/agent/services: the local services by ID.
func (s *Server) agentServices(w http.ResponseWriter, r *http.Request) (any, error) {
	f, err := parseReadFilters(r)
	if err != nil {
		return nil, err
	}
	out := map[string]*agentService{}
	for _, svc := range s.cfg.Local.Services() {
		out[svc.ID] = newLocalService(svc, s.cfg.Agent.Datacenter)
	}
	return filterExpr(&f, out)
}

// agentServiceByID serves GET /v1/agent/service/{id}, with a ContentHash
// of the service. With ?hash=H it blocks, as Consul does, until the
// service's hash differs from H or ?wait (default 5 min, at most 10) ends.
func (s *Server) agentServiceByID(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	o, err := parseQuery(r, s.cfg.Agent.Datacenter)
	if err != nil {
		return nil, err
	}
	wait := o.wait
	if wait <= 0 {
		wait = defaultWait
	}
	deadline := time.NewTimer(min(wait, maxWait))
	defer deadline.Stop()
	for {
		changed := s.cfg.Local.ServicesChanged()
		svc := s.cfg.Local.Service(id)
		if svc == nil {
			return nil, &httpError{http.StatusNotFound, CodeNotFound, "unknown service ID: " + id}
		}
		out := struct {
			*agentService
			ContentHash string
		}{agentService: newLocalService(svc, s.cfg.Agent.Datacenter)}
		b, _ := json.Marshal(out.agentService)
		sum := sha256.Sum256(b)
		out.ContentHash = hex.EncodeToString(sum[:8])
		if h := query(r).Get("hash"); h != "" && h == out.ContentHash {
			select {
			case <-changed:
				continue
			case <-deadline.C:
			case <-r.Context().Done():
			}
		}
		w.Header().Set("X-Consul-ContentHash", out.ContentHash)
		return out, nil
	}
}

// agentChecks serves GET /v1/agent/checks: the local checks by ID.
func (s *Server) agentChecks(w http.ResponseWriter, r *http.Request) (any, error) {
	f, err := parseReadFilters(r)
	if err != nil {
		return nil, err
	}
	out := map[string]*state.HealthCheck{}
	for _, c := range checksJSON(s.cfg.Local.Checks()) {
		out[c.CheckID] = c
	}
	return filterExpr(&f, out)
}

// agentCheckRegister serves PUT /v1/agent/check/register.
func (s *Server) agentCheckRegister(w http.ResponseWriter, r *http.Request) (any, error) {
	var d local.CheckDefinition
	if err := decodeLenient(r, s.cfg.Limits.MaxBodySize, &d); err != nil {
		return nil, err
	}
	c, err := d.Check()
	if err != nil {
		return nil, badRequest("Invalid check: %v", trimPkg(err))
	}
	if err := s.cfg.Local.AddCheck(c); err != nil {
		return nil, localError(err)
	}
	s.persist(s.cfg.Local.Persist().SaveCheck(c.Health.CheckID, &d))
	return nil, s.synced(nil, func() error { return s.cfg.Local.SyncCheck(c.Health.CheckID) })
}

// agentCheckDeregister serves PUT /v1/agent/check/deregister/{id}.
func (s *Server) agentCheckDeregister(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	if err := s.cfg.Local.RemoveCheck(id); err != nil {
		return nil, localError(err)
	}
	s.persist(s.cfg.Local.Persist().DeleteCheck(id))
	return nil, s.synced(nil, func() error { return s.cfg.Local.SyncCheck(id) })
}

// agentCheckTTL serves PUT /v1/agent/check/pass|warn|fail/{id}?note=.
func (s *Server) agentCheckTTL(status string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		id := r.PathValue("id")
		return nil, s.synced(s.cfg.Local.UpdateTTL(id, status, query(r).Get("note")),
			func() error { return s.cfg.Local.SyncCheck(id) })
	}
}

// agentCheckUpdate serves PUT /v1/agent/check/update/{id} with a body of
// {"Status": ..., "Output": ...}.
func (s *Server) agentCheckUpdate(w http.ResponseWriter, r *http.Request) (any, error) {
	var b struct{ Status, Output string }
	if err := decodeBody(r, s.cfg.Limits.MaxBodySize, &b); err != nil {
		return nil, err
	}
	if !checkStatuses[b.Status] || b.Status == "" {
		return nil, badRequest("Invalid check status: %q", b.Status)
	}
	id := r.PathValue("id")
	return nil, s.synced(s.cfg.Local.UpdateTTL(id, b.Status, b.Output), func() error { return s.cfg.Local.SyncCheck(id) })
}

// agentHealth is one entry of /v1/agent/health/service/*.
type agentHealth struct {
	AggregatedStatus string
	Service          *agentService
	Checks           []*state.HealthCheck
}

// agentHealthByID serves GET /v1/agent/health/service/id/{id}: the
// service's aggregated status, also as the HTTP status (200 passing, 429
// warning, 503 critical or maintenance), as in Consul.
func (s *Server) agentHealthByID(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	svc := s.cfg.Local.Service(id)
	if svc == nil {
		return s.healthAnswer(w, r, http.StatusNotFound, "ServiceId "+id+" not found", nil)
	}
	h := s.localHealth(svc)
	return s.healthAnswer(w, r, healthCode(h.AggregatedStatus), h.AggregatedStatus, h)
}

// agentHealthByName serves GET /v1/agent/health/service/name/{name}: every
// local instance of the service, with the worst status as the HTTP status.
func (s *Server) agentHealthByName(w http.ResponseWriter, r *http.Request) (any, error) {
	name := r.PathValue("name")
	var out []*agentHealth
	worst := state.HealthPassing
	for _, svc := range s.cfg.Local.Services() {
		if svc.Service != name {
			continue
		}
		h := s.localHealth(svc)
		out = append(out, h)
		if healthCode(h.AggregatedStatus) > healthCode(worst) {
			worst = h.AggregatedStatus
		}
	}
	if len(out) == 0 {
		return s.healthAnswer(w, r, http.StatusNotFound, "ServiceName "+name+" Not Found", []*agentHealth{})
	}
	return s.healthAnswer(w, r, healthCode(worst), worst, out)
}

// localHealth aggregates a local service's checks (its own and the node's):
// maintenance wins, then critical, warning, passing.
func (s *Server) localHealth(svc *state.Service) *agentHealth {
	h := &agentHealth{AggregatedStatus: state.HealthPassing, Service: newLocalService(svc, s.cfg.Agent.Datacenter), Checks: []*state.HealthCheck{}}
	rank := map[string]int{state.HealthPassing: 0, state.HealthWarning: 1, state.HealthCritical: 2, "maintenance": 3}
	for _, c := range s.cfg.Local.Checks() {
		if c.ServiceID != "" && c.ServiceID != svc.ID {
			continue
		}
		h.Checks = append(h.Checks, checkJSON(c))
		status := c.Status
		if c.CheckID == local.NodeMaintenanceID || c.CheckID == local.ServiceMaintenanceID(svc.ID) {
			status = "maintenance"
		}
		if rank[status] > rank[h.AggregatedStatus] {
			h.AggregatedStatus = status
		}
	}
	return h
}

func healthCode(status string) int {
	switch status {
	case state.HealthPassing:
		return http.StatusOK
	case state.HealthWarning:
		return http.StatusTooManyRequests
	}
	return http.StatusServiceUnavailable
}

// healthAnswer writes an agent health answer with its status code: JSON,
// or the status text alone with ?format=text.
func (s *Server) healthAnswer(w http.ResponseWriter, r *http.Request, code int, text string, v any) (any, error) {
	var body []byte
	ctype := "application/json"
	if query(r).Get("format") == "text" {
		body, ctype = []byte(text), "text/plain"
	} else {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		body = b
	}
	return statusBody{code: code, rawBody: rawBody{contentType: ctype, data: body}}, nil
}

// agentReload serves PUT /v1/agent/reload.
func (s *Server) agentReload(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := s.cfg.Reload(); err != nil {
		return nil, fmt.Errorf("agent reload failed: %w", err)
	}
	return nil, nil
}

// localError maps the errors of package local and of check definitions to
// answers.
func localError(err error) error {
	var ve *checks.ValidationError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, local.ErrUnknownService), errors.Is(err, local.ErrUnknownCheck):
		return &httpError{http.StatusNotFound, CodeNotFound, trimPkg(err)}
	case errors.As(err, &ve), errors.Is(err, checks.ErrScriptChecksDisabled), errors.Is(err, checks.ErrInvalidStatus),
		errors.Is(err, checks.ErrNotTTL):
		return badRequest("%s", trimPkg(err))
	}
	return err
}

// trimPkg drops the "local: " / "checks: " prefix of an error for the
// client's eyes.
func trimPkg(err error) string {
	msg := err.Error()
	for _, p := range []string{"local: ", "checks: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return msg
}
