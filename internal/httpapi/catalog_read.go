package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/hashicorp/go-bexpr"
	"github.com/hashicorp/go-memdb"

	"github.com/musterhq/muster/internal/state"
)

// The catalog and health reads. Each is a blocking query on the store; the
// service reads block on the service's own index, so a watcher of one
// service is not woken by another's changes. ?tag= (repeatable: every tag
// must match), ?node-meta=key:value (repeatable) and ?filter= (Consul's
// expression language, via go-bexpr, over the response's JSON shape) narrow
// the answer after the read, as in Consul.

// readFilters are the narrowing options of a catalog or health read.
type readFilters struct {
	tags     []string
	nodeMeta map[string]string
	expr     *bexpr.Filter
}

func parseReadFilters(r *http.Request) (readFilters, error) {
	q := query(r)
	f := readFilters{tags: q["tag"]}
	for _, kv := range q["node-meta"] {
		k, v, ok := strings.Cut(kv, ":")
		if !ok || k == "" {
			return f, badRequest("Invalid node-meta %q: want key:value", kv)
		}
		if f.nodeMeta == nil {
			f.nodeMeta = map[string]string{}
		}
		f.nodeMeta[k] = v
	}
	if expr := q.Get("filter"); expr != "" {
		flt, err := bexpr.CreateFilter(expr)
		if err != nil {
			return f, badRequest("Failed to create boolean expression evaluator: %v", err)
		}
		f.expr = flt
	}
	return f, nil
}

// keep reports whether an instance passes the tag and node-meta filters.
func (f *readFilters) keep(n *state.Node, tags []string) bool {
	for _, t := range f.tags {
		if !slices.ContainsFunc(tags, func(have string) bool { return strings.EqualFold(have, t) }) {
			return false
		}
	}
	for k, v := range f.nodeMeta {
		if have, ok := n.Meta[k]; !ok || have != v {
			return false
		}
	}
	return true
}

// filterExpr applies the filter expression to a slice or map of response values.
func filterExpr[T any](f *readFilters, in T) (T, error) {
	if f.expr == nil {
		return in, nil
	}
	out, err := f.expr.Execute(in)
	if err != nil {
		var zero T
		return zero, badRequest("Filter failed: %v", err)
	}
	return out.(T), nil
}

// catalogServices serves GET /v1/catalog/services: every service name with
// the union of its instances' tags.
func (s *Server) catalogServices(w http.ResponseWriter, r *http.Request) (any, error) {
	o, f, err := s.parseRead(r)
	if err != nil {
		return nil, err
	}
	var insts []state.ServiceInstance
	err = s.blockingQuery(w, r, o, func(ws memdb.WatchSet, st *state.Store) (uint64, error) {
		idx, all, err := st.AllServices(ws)
		insts = all
		return idx, err
	})
	if err != nil {
		return nil, err
	}
	var kept []*catalogService
	for _, in := range insts {
		if f.keep(in.Node, nil) {
			kept = append(kept, newCatalogService(in))
		}
	}
	if kept, err = filterExpr(&f, kept); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, cs := range kept {
		tags := out[cs.ServiceName]
		if tags == nil {
			tags = []string{}
		}
		for _, t := range cs.ServiceTags {
			if !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
		out[cs.ServiceName] = tags
	}
	for _, tags := range out {
		slices.Sort(tags)
	}
	return out, nil
}

// catalogService serves GET /v1/catalog/service/{name}.
func (s *Server) catalogService(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.serviceAnswer(w, r, false, func(insts []state.ServiceInstance, f *readFilters) (any, error) {
		out := make([]*catalogService, 0, len(insts))
		for _, in := range insts {
			out = append(out, newCatalogService(in))
		}
		return filterExpr(f, out)
	})
}

// healthService serves GET /v1/health/service/{name}; with ?passing, only
// the instances whose every check passes.
func (s *Server) healthService(w http.ResponseWriter, r *http.Request) (any, error) {
	passing := queryFlag(r, "passing")
	return s.serviceAnswer(w, r, true, func(insts []state.ServiceInstance, f *readFilters) (any, error) {
		out := make([]*serviceEntry, 0, len(insts))
		for _, in := range insts {
			if passing && !allPassing(in.HealthChecks()) {
				continue
			}
			svc := newAgentService(in.Service)
			svc.Tags = tagsJSON(svc.Tags)
			out = append(out, &serviceEntry{Node: in.Node, Service: svc, Checks: checksJSON(in.Checks)})
		}
		return filterExpr(f, out)
	})
}

func allPassing(checks []*state.HealthCheck) bool {
	for _, c := range checks {
		if c.Status != state.HealthPassing {
			return false
		}
	}
	return true
}

// serviceAnswer answers a read of one service's instances: a blocking
// wait on the service's index alone, then the encoded answer for that
// index from the response cache, or, on a miss, the instances read,
// narrowed by tag and node-meta, and rendered. With a thousand instances
// the read costs milliseconds; a hit costs a map lookup. (An instance read
// may see a write newer than the index waited for; its answer then goes
// out under the older index, which only makes the client's next blocking
// read return at once.)
func (s *Server) serviceAnswer(w http.ResponseWriter, r *http.Request, withChecks bool,
	render func(insts []state.ServiceInstance, f *readFilters) (any, error)) (any, error) {
	o, f, err := s.parseRead(r)
	if err != nil {
		return nil, err
	}
	name := r.PathValue("name")
	key := respKey{query: cacheQuery(r)}
	err = s.blockingQuery(w, r, o, func(ws memdb.WatchSet, st *state.Store) (uint64, error) {
		idx, err := st.ServiceIndex(ws, name)
		key.st, key.idx = st, idx
		return idx, err
	})
	if err != nil {
		return nil, err
	}
	return s.cache.answer(w, r, key, func() (any, error) {
		_, insts, err := key.st.ServiceInstances(nil, name, withChecks)
		if err != nil {
			return nil, err
		}
		kept := insts[:0:0]
		for _, in := range insts {
			if f.keep(in.Node, in.Service.Tags) {
				kept = append(kept, in)
			}
		}
		return render(kept, &f)
	})
}

// catalogNode serves GET /v1/catalog/node/{node}: the node and a map of its
// services by ID, or null for an unknown node (Consul's answer).
func (s *Server) catalogNode(w http.ResponseWriter, r *http.Request) (any, error) {
	node, svcs, f, err := s.readNode(w, r)
	if err != nil || node == nil {
		return jsonNull, err
	}
	out := map[string]*agentService{}
	for _, sv := range svcs {
		out[sv.ID] = sv
	}
	if out, err = filterExpr(&f, out); err != nil {
		return nil, err
	}
	return struct {
		Node     *state.Node
		Services map[string]*agentService
	}{node, out}, nil
}

// catalogNodeServices serves GET /v1/catalog/node-services/{node}: the node
// and a list of its services, or null for an unknown node.
func (s *Server) catalogNodeServices(w http.ResponseWriter, r *http.Request) (any, error) {
	node, svcs, f, err := s.readNode(w, r)
	if err != nil || node == nil {
		return jsonNull, err
	}
	if svcs, err = filterExpr(&f, svcs); err != nil {
		return nil, err
	}
	return struct {
		Node     *state.Node
		Services []*agentService
	}{node, svcs}, nil
}

// jsonNull is Consul's answer for a node it does not know.
var jsonNull = rawBody{contentType: "application/json", data: []byte("null\n")}

func (s *Server) readNode(w http.ResponseWriter, r *http.Request) (*state.Node, []*agentService, readFilters, error) {
	o, f, err := s.parseRead(r)
	if err != nil {
		return nil, nil, f, err
	}
	name := r.PathValue("node")
	var node *state.Node
	var svcs []*state.Service
	err = s.blockingQuery(w, r, o, func(ws memdb.WatchSet, st *state.Store) (uint64, error) {
		idx, n, sv, err := st.NodeServices(ws, name)
		node, svcs = n, sv
		return idx, err
	})
	if err != nil || node == nil {
		return nil, nil, f, err
	}
	out := make([]*agentService, 0, len(svcs))
	for _, sv := range svcs {
		out = append(out, newAgentService(sv))
	}
	return node, out, f, nil
}

// healthChecks serves GET /v1/health/checks/{name}: the checks of every
// instance of a service.
func (s *Server) healthChecks(w http.ResponseWriter, r *http.Request) (any, error) {
	o, f, err := s.parseRead(r)
	if err != nil {
		return nil, err
	}
	name := r.PathValue("name")
	var checks []*state.HealthCheck
	err = s.blockingQuery(w, r, o, func(ws memdb.WatchSet, st *state.Store) (uint64, error) {
		idx, c, err := st.ServiceChecks(ws, name)
		checks = c
		return idx, err
	})
	if err != nil {
		return nil, err
	}
	return s.narrowChecks(&f, checks)
}

// healthState serves GET /v1/health/state/{state}: checks by status, or
// every check for "any".
func (s *Server) healthState(w http.ResponseWriter, r *http.Request) (any, error) {
	status := r.PathValue("state")
	if status != "any" && !checkStatuses[status] || status == "" {
		return nil, badRequest("Bad check state %q: want any, passing, warning or critical", status)
	}
	o, f, err := s.parseRead(r)
	if err != nil {
		return nil, err
	}
	var checks []*state.HealthCheck
	err = s.blockingQuery(w, r, o, func(ws memdb.WatchSet, st *state.Store) (uint64, error) {
		idx, c, err := st.ChecksInState(ws, status)
		checks = c
		return idx, err
	})
	if err != nil {
		return nil, err
	}
	return s.narrowChecks(&f, checks)
}

// narrowChecks applies ?node-meta (which needs each check's node) and
// ?filter to a list of checks.
func (s *Server) narrowChecks(f *readFilters, checks []*state.HealthCheck) ([]*state.HealthCheck, error) {
	if len(f.nodeMeta) > 0 {
		st := s.store()
		kept := checks[:0:0]
		for _, c := range checks {
			if n := st.Node(c.Node); n != nil && f.keep(n, nil) {
				kept = append(kept, c)
			}
		}
		checks = kept
	}
	return filterExpr(f, checksJSON(checks))
}

func (s *Server) parseRead(r *http.Request) (queryOpts, readFilters, error) {
	o, err := parseQuery(r, s.cfg.Agent.Datacenter)
	if err != nil {
		return o, readFilters{}, err
	}
	f, err := parseReadFilters(r)
	return o, f, err
}
