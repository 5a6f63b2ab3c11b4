package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// The floor server is Go's net/http with nothing behind it: a process of
// its own (this binary, started with floorCmd) that answers kv-get's reads
// with answers encoded once at start, with the headers muster sends. Its
// kv-get row, "nethttp(fixed answer)", measures what the HTTP exchange
// alone costs on this machine with this client — the part of muster's
// cost per read that no work on muster's own code can remove.

// floorCmd is the hidden first argument that runs the floor server.
const floorCmd = "internal-floor-server"

// floorSystem names the floor server's process (node) and its row's base.
const floorSystem = "nethttp"

// runFloorServer serves the floor on addr until it is killed.
func runFloorServer(addr string) int {
	answers, err := floorAnswers()
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor server:", err)
		return 2
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor server:", err)
		return 2
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/status/leader" {
			w.Write([]byte(`"127.0.0.1:8300"`))
			return
		}
		b, ok := answers[r.URL.Path]
		if !ok || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		hd := w.Header()
		hd.Set("Content-Type", "application/json")
		hd.Set("Vary", "Accept-Encoding")
		hd.Set("X-Consul-Index", "1")
		hd.Set("X-Consul-Knownleader", "true")
		hd.Set("X-Consul-Lastcontact", "0")
		hd.Set("X-Consul-Effective-Consistency", "leader")
		w.Write(b)
	})
	if err := http.Serve(ln, h); err != nil {
		fmt.Fprintln(os.Stderr, "floor server:", err)
		return 1
	}
	return 0
}

// floorAnswers encodes, once, muster's answer to GET /v1/kv/K for every
// key kv-get reads, keyed by path.
func floorAnswers() (map[string][]byte, error) {
	answers := make(map[string][]byte, getKeys)
	for i := range getKeys {
		k := getKey(i)
		b, err := json.Marshal([]kvEntry{{Key: k, Value: valueFor(k, valueSize), CreateIndex: 1, ModifyIndex: 1}})
		if err != nil {
			return nil, err
		}
		answers["/v1/kv/"+k] = append(b, '\n')
	}
	return answers, nil
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
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	p, err := startProc(floorSystem, dir, exe, floorCmd, addr)
	if err != nil {
		return nil, nil, err
	}
	c := newMusterClient(addr)
	err = p.waitReady(ctx, 10*time.Second, func(ctx context.Context) error {
		_, body, err := c.do(ctx, http.MethodGet, "/v1/status/leader", nil)
		if err == nil && len(body) == 0 {
			err = errors.New("no answer")
		}
		return err
	})
	if err != nil {
		p.stop()
		return nil, nil, err
	}
	return p, c, nil
}
