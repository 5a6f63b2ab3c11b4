package httpapi

import "net/http"

// routes registers every endpoint. The path table here is the one
// docs/api-compat.md describes.
func (s *Server) routes() {
	s.handle("GET /v1/kv/{key...}", s.kvGet)
	s.handle("PUT /v1/kv/{key...}", s.kvPut)
	s.handle("DELETE /v1/kv/{key...}", s.kvDelete)
	s.handle("PUT /v1/txn", s.txn)

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
	s.handle("GET /v1/agent/connect/ca/roots", s.connectCARoots)
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

	s.handle("GET /v1/snapshot", s.snapshotSave)
	s.handle("PUT /v1/snapshot", s.snapshotRestore)

	// Unknown API paths answer 404 with a reason, as Consul does.
	s.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &httpError{http.StatusNotFound, CodeNotFound, "Invalid URL path: not a recognized HTTP API endpoint"})
	})
}
