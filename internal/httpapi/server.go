// Package httpapi serves muster's HTTP API: Consul's paths, JSON shapes,
// status codes and headers, plus documented extensions (fair lock waits,
// fencing tokens) that plain Consul clients never trip over.
//
// Handlers decode and validate a request, then either read the state store
// (optionally blocking until the result changes) or propose a command through
// the cluster and wait for it to be applied. A handler never writes the
// response body itself: it returns a value that the wrapper encodes, or an
// error that the wrapper maps to a status code, a text reason and a stable
// error code in the X-Muster-Error-Code header.
package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/musterhq/muster/internal/cluster"
	"github.com/musterhq/muster/internal/fsm"
	"github.com/musterhq/muster/internal/local"
	"github.com/musterhq/muster/internal/metrics"
	"github.com/musterhq/muster/internal/state"
)

// Limits bound what a request may carry.
type Limits struct {
	KVMaxValueSize int // bytes of one value (Consul's kv_max_value_size)
	TxnMaxReqLen   int // bytes of a /v1/txn body, base64 included
	TxnMaxOps      int // operations in one transaction
	MaxBodySize    int // bytes of any other JSON body
}

// DefaultLimits are Consul's limits, except that a transaction body may carry
// a full-size value after base64 inflation (Consul issue #6660).
func DefaultLimits() Limits {
	return Limits{
		KVMaxValueSize: 512 * 1024,      // Consul's default
		TxnMaxReqLen:   2 * 1024 * 1024, // fits one 512 KiB value in base64, with room
		TxnMaxOps:      64,              // Consul's default
		MaxBodySize:    1024 * 1024,
	}
}

// Agent describes the agent serving the API, for /v1/agent/self and friends.
type Agent struct {
	NodeName   string
	NodeID     string
	Datacenter string
	Address    string // advertised LAN address
	ServerPort int    // Raft port shown in peer lists
	SerfPort   int
	Version    string
	Revision   string
	Server     bool
	Config     map[string]any // extra keys reported under Config in /v1/agent/self
}

// SessionTimers runs session TTLs on the leader.
type SessionTimers interface {
	Reset(id string, ttl time.Duration)
	Clear(id string)
}

// Config wires a Server.
type Config struct {
	Agent    Agent
	Limits   Limits
	FSM      *fsm.FSM
	Cluster  *cluster.Cluster
	Sessions SessionTimers
	Logger   *slog.Logger
	// CARoots is the JSON document served at /v1/agent/connect/ca/roots.
	CARoots any
	// OnRestore runs after a snapshot restore is applied: the leader's own
	// bookkeeping (its node registration, session TTL timers) must be
	// rebuilt from the restored state.
	OnRestore func() error
	// Local is the agent's own services and checks (the agent endpoints).
	Local *local.State
	// Reload re-reads the agent's config files (PUT /v1/agent/reload).
	Reload func() error
	// Metrics records request metrics and serves /v1/agent/metrics.
	Metrics *metrics.Metrics
	// Logs feeds /v1/agent/monitor.
	Logs LogStream
	// Gossip is the agent's LAN pool (nil: /v1/agent/members shows only
	// this agent).
	Gossip Gossip
	// Leave makes the agent leave the cluster gracefully and stop (PUT
	// /v1/agent/leave); it returns once the leave went out.
	Leave func() error
	// Extra registers more routes (the UI, later packages) on the mux.
	Extra func(mux *http.ServeMux)
}

// Server is the HTTP API.
type Server struct {
	cfg   Config
	mux   *http.ServeMux
	cache *respCache
}

// New builds the API handler.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, mux: http.NewServeMux(), cache: newRespCache(1024, 64<<20)}
	s.routes()
	if cfg.Extra != nil {
		cfg.Extra(s.mux)
	}
	return s
}

// SetGossip gives the API the agent's pool when it starts after the API;
// call it before serving.
func (s *Server) SetGossip(g Gossip) { s.cfg.Gossip = g }

func (s *Server) store() *state.Store { return s.cfg.FSM.State() }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// handlerFunc decodes a request and returns the value to encode as JSON (or
// a rawBody). It may set response headers, never the body.
type handlerFunc func(w http.ResponseWriter, r *http.Request) (any, error)

// rawBody is a response written as-is instead of JSON.
type rawBody struct {
	contentType string
	data        []byte
}

// statusBody is a rawBody answered with another status than 200.
type statusBody struct {
	code int
	rawBody
}

// notFound makes the wrapper answer 404 with an empty body, as Consul does
// for a missing key (the headers set by the handler are kept).
type notFound struct{}

// handled means the handler wrote the whole answer itself (a stream, or a
// handler borrowed from a library).
type handled struct{}

func (s *Server) handle(pattern string, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(rw http.ResponseWriter, r *http.Request) {
		w := rw
		if m := s.cfg.Metrics; m != nil {
			rec := &statusRecorder{ResponseWriter: rw, code: http.StatusOK}
			w = rec
			start := time.Now()
			defer func() { m.ObserveHTTP(pattern, r.Method, rec.code, time.Since(start)) }()
		}
		out, err := h(w, r)
		var conflict *txnConflict
		if errors.As(err, &conflict) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			json.NewEncoder(w).Encode(conflict.body)
			return
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		switch v := out.(type) {
		case notFound:
			w.WriteHeader(http.StatusNotFound)
		case rawBody:
			w.Header().Set("Content-Type", v.contentType)
			w.Write(v.data)
		case handled:
		case statusBody:
			w.Header().Set("Content-Type", v.contentType)
			w.WriteHeader(v.code)
			w.Write(v.data)
		case nil:
			w.WriteHeader(http.StatusOK)
		default:
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			if _, ok := query(r)["pretty"]; ok {
				enc.SetIndent("", "    ")
			}
			if err := enc.Encode(v); err != nil {
				s.cfg.Logger.Debug("http: write response", "path", r.URL.Path, "err", err)
			}
		}
	})
}

// statusRecorder remembers the status code a handler answered with, for
// the request metrics.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// Flush lets streaming answers through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// setIndex sets X-Consul-Index; an index is never 0 (clients treat 0 as "no
// blocking" and would spin).
func setIndex(w http.ResponseWriter, idx uint64) {
	if idx == 0 {
		idx = 1
	}
	w.Header().Set("X-Consul-Index", strconv.FormatUint(idx, 10))
}

// query returns the request's query parameters, parsed once per request
// (r.URL.Query parses anew on every call, and a request asks several times).
func query(r *http.Request) url.Values {
	if r.Form == nil {
		r.Form, _ = url.ParseQuery(r.URL.RawQuery)
	}
	return r.Form
}

// queryFlag reports whether a boolean query parameter is set: present with
// no value or any value but "false" / "0" (Consul's ?passing=false works).
func queryFlag(r *http.Request, name string) bool {
	vals, ok := query(r)[name]
	if !ok {
		return false
	}
	v := ""
	if len(vals) > 0 {
		v = vals[0]
	}
	return v != "false" && v != "0"
}
