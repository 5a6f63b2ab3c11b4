package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
)

// The floor server is Go's net/http with next to nothing behind it: a
// process of its own (this binary, started with floorCmd) that keeps
// /v1/kv in a map under a mutex, encodes each value's answer once when it
// is written, and answers with the headers muster sends. Its kv-put and
// kv-get rows, "nethttp(floor)", measure what the HTTP exchange alone
// costs on this machine with this client: the part of muster's cost per
// operation, and the ceiling of its rate, that no work on muster's own
// code (Raft, the state store, the handlers) can move.

// floorCmd is the hidden first argument that runs the floor server.
const floorCmd = "internal-floor-server"

// floorSystem names the floor server's process (node) and its row's base.
const floorSystem = "nethttp"

// floorStore is the floor server's key/value map: key -> the encoded
// answer to GET /v1/kv/KEY.
type floorStore struct {
	mu      sync.Mutex
	answers map[string][]byte
}

// runFloorServer serves the floor on addr until it is killed.
func runFloorServer(addr string) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor server:", err)
		return 2
	}
	st := &floorStore{answers: map[string][]byte{}}
	if err := http.Serve(ln, st); err != nil {
		fmt.Fprintln(os.Stderr, "floor server:", err)
		return 1
	}
	return 0
}

// ServeHTTP answers GET /v1/status/leader, PUT /v1/kv/K (the body is the
// value), GET /v1/kv/K, and GET /v1/kv/PREFIX?keys.
func (st *floorStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/status/leader" {
		w.Write([]byte(`"127.0.0.1:8300"`))
		return
	}
	key, ok := strings.CutPrefix(r.URL.Path, "/v1/kv/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Consul-Index", "1")
	h.Set("X-Consul-Knownleader", "true")
	h.Set("X-Consul-Lastcontact", "0")
	switch {
	case r.Method == http.MethodPut:
		v, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b, _ := json.Marshal([]kvEntry{{Key: key, Value: v, CreateIndex: 1, ModifyIndex: 1}})
		st.mu.Lock()
		st.answers[key] = append(b, '\n')
		st.mu.Unlock()
		w.Write([]byte("true\n"))
	case r.Method == http.MethodGet && r.URL.Query().Has("keys"):
		st.mu.Lock()
		var ks []string
		for k := range st.answers {
			if strings.HasPrefix(k, key) {
				ks = append(ks, k)
			}
		}
		st.mu.Unlock()
		json.NewEncoder(w).Encode(ks)
	case r.Method == http.MethodGet:
		h.Set("Vary", "Accept-Encoding")
		h.Set("X-Consul-Effective-Consistency", "leader")
		st.mu.Lock()
		b, ok := st.answers[key]
		st.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// startFloor starts this binary as the floor server on a free port.
func startFloor(ctx context.Context, dir string) (*proc, *musterClient, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, nil, err
	}
	p, err := startProc(floorSystem, dir, exe, floorCmd, "127.0.0.1:"+strconv.Itoa(ports[0]))
	if err != nil {
		return nil, nil, err
	}
	c, err := apiClient(ctx, p, exe, ports[0])
	return p, c, err
}
