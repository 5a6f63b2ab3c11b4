package httpapi

import (
	"net/http"

	"github.com/musterhq/muster/internal/state"
)

// routes registers every endpoint. The path table here is the one
// docs/api-compat.md describes.
func (s *Server) routes() {
	s.handle("GET /v1/kv/{key...}", s.kvGet)
	s.handle("PUT /v1/kv/{key...}", s.kvPut)
	s.handle("DELETE /v1/kv/{key...}", s.kvDelete)
	s.handle("PUT /v1/txn", s.txn)
	s.handle("GET /v1/lock/waiters/{key...}", s.lockWaiters)

	s.handle("PUT /v1/session/create", s.sessionCreate)
	s.handle("PUT /v1/session/destroy/{id}", s.sessionDestroy)
	s.handle("PUT /v1/session/renew/{id}", s.sessionRenew)
	s.handle("GET /v1/session/info/{id}", s.sessionInfo)
	s.handle("GET /v1/session/node/{node}", s.sessionList)
	s.handle("GET /v1/session/list", s.sessionList)

	s.handle("GET /v1/status/leader", s.statusLeader)
	s.handle("GET /v1/status/peers", s.statusPeers)
	s.handle("GET /v1/agent/self", s.agentSelf)
	s.handle("GET /v1/agent/members", s.agentMembers)
	s.handle("PUT /v1/agent/join/{address}", s.agentJoin)
	s.handle("PUT /v1/agent/leave", s.agentLeave)
	s.handle("PUT /v1/agent/force-leave/{node}", s.agentForceLeave)
	s.handle("DELETE /v1/operator/raft/peer", s.operatorRaftRemovePeer)
	s.handle("PUT /v1/internal/apply/{type}", s.internalApply)
	s.handle("GET /v1/internal/node-state/{node}", s.internalNodeState)
	s.handle("GET /v1/internal/dns/service/{name}", s.internalDNSService)
	s.handle("GET /v1/internal/dns/node/{name}", s.internalDNSNode)
	s.handle("GET /v1/agent/connect/ca/roots", s.connectCARoots)
	s.handle("PUT /v1/agent/service/register", s.agentServiceRegister)
	s.handle("PUT /v1/agent/service/deregister/{id}", s.agentServiceDeregister)
	s.handle("PUT /v1/agent/service/maintenance/{id}", s.agentServiceMaintenance)
	s.handle("PUT /v1/agent/maintenance", s.agentNodeMaintenance)
	s.handle("GET /v1/agent/services", s.agentServices)
	s.handle("GET /v1/agent/service/{id}", s.agentServiceByID)
	s.handle("GET /v1/agent/checks", s.agentChecks)
	s.handle("PUT /v1/agent/check/register", s.agentCheckRegister)
	s.handle("PUT /v1/agent/check/deregister/{id}", s.agentCheckDeregister)
	s.handle("PUT /v1/agent/check/pass/{id}", s.agentCheckTTL(state.HealthPassing))
	s.handle("PUT /v1/agent/check/warn/{id}", s.agentCheckTTL(state.HealthWarning))
	s.handle("PUT /v1/agent/check/fail/{id}", s.agentCheckTTL(state.HealthCritical))
	s.handle("PUT /v1/agent/check/update/{id}", s.agentCheckUpdate)
	s.handle("GET /v1/agent/health/service/id/{id}", s.agentHealthByID)
	s.handle("GET /v1/agent/health/service/name/{name}", s.agentHealthByName)
	s.handle("PUT /v1/agent/reload", s.agentReload)
	s.handle("GET /v1/agent/metrics", s.agentMetrics)
	s.handle("GET /v1/agent/host", s.agentHost)
	s.handle("GET /v1/agent/monitor", s.agentMonitor)
	s.handle("GET /v1/catalog/datacenters", s.catalogDatacenters)
	s.handle("GET /v1/catalog/nodes", s.catalogNodes)
	s.handle("PUT /v1/catalog/register", s.catalogRegister)
	s.handle("PUT /v1/catalog/deregister", s.catalogDeregister)
	s.handle("GET /v1/catalog/services", s.catalogServices)
	s.handle("GET /v1/catalog/service/{name}", s.catalogService)
	s.handle("GET /v1/catalog/node/{node}", s.catalogNode)
	s.handle("GET /v1/catalog/node-services/{node}", s.catalogNodeServices)
	s.handle("GET /v1/health/node/{node}", s.healthNode)
	s.handle("GET /v1/health/service/{name}", s.healthService)
	s.handle("GET /v1/health/checks/{name}", s.healthChecks)
	s.handle("GET /v1/health/state/{state}", s.healthState)
	s.handle("GET /v1/operator/raft/configuration", s.operatorRaftConfiguration)
	s.handle("GET /v1/operator/autopilot/health", s.operatorAutopilotHealth())
	s.handle("GET /v1/internal/raft-stats", s.internalRaftStats)

	s.handle("GET /v1/snapshot", s.snapshotSave)
	s.handle("PUT /v1/snapshot", s.snapshotRestore)

	// Unknown API paths answer 404 with a reason, as Consul does.
	s.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &httpError{http.StatusNotFound, CodeNotFound, "Invalid URL path: not a recognized HTTP API endpoint"})
	})
}
