package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"time"

	consul "github.com/hashicorp/consul/api"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const (
	// hqService is the service health-query registers hqInstances of,
	// spread over hqNodes catalog nodes.
	hqService   = "bench-hq"
	hqInstances = 1000
	hqNodes     = 50
	// hqPrefix holds the peers' copies: etcd keys PREFIX+ID, Redis hash
	// PREFIX (field ID).
	hqPrefix = "bench/health/" + hqService + "/"
	// hqRefBytes is the size of one answer in the Consul reference run.
	hqRefBytes = 2_750_000
)

// healthQuery: 1000 instances of one service, each with a passing check,
// then every worker loops the service's health query and decodes the
// answer into Consul's ServiceEntry structs. The rate is queries per
// second, the latency one query including the decode. Check: every answer
// has the 1000 instances, each passing.
//
// muster: PUT /v1/catalog/register per instance, then the Consul Go
// client's Health().Service(name, "", true) (GET
// /v1/health/service/NAME?passing). The peers store the SAME bytes, muster's
// answer split into its 1000 entries (or, without muster, the same entries
// encoded by the bench), and the bench decodes each into a ServiceEntry:
// etcd a prefix range get of 1000 keys, Redis HGETALL of one 1000-field
// hash. Neither filters on health; all instances pass anyway. The
// "muster(no-decode)" row reads the gzipped answer and compares it with the
// checked one, without decoding: the server side alone. Consul runs the
// same two rows as muster, through the same code.
func healthQuery(ctx context.Context, e *env) []*result {
	var out []*result
	var entries []json.RawMessage
	if e.muster != nil {
		var rs []*result
		entries, rs = apiHealthQuery(ctx, e, "muster", e.muster)
		out = append(out, rs...)
	}
	if e.consul != nil {
		_, rs := apiHealthQuery(ctx, e, "consul", e.consul)
		out = append(out, rs...)
	}
	if e.etcd == nil && e.redis == nil {
		return out
	}
	source := "muster's answer"
	if len(entries) != hqInstances {
		source = "entries encoded by the bench (muster's answer not available)"
		entries = syntheticEntries()
	}
	size := 0
	for _, en := range entries {
		size += len(en)
	}
	if e.etcd != nil {
		r := etcdHealthQuery(ctx, e, entries)
		r.note("values: %d entries of %s, %d bytes", len(entries), source, size)
		out = append(out, r)
	}
	if e.redis != nil {
		r := redisHealthQuery(ctx, e, entries)
		r.note("values: %d entries of %s, %d bytes", len(entries), source, size)
		out = append(out, r)
	}
	return out
}

func hqID(i int) string   { return fmt.Sprintf("%s-%04d", hqService, i) }
func hqNode(i int) string { return fmt.Sprintf("bench-hq-node-%02d", i%hqNodes) }
func hqAddr(i int) string { return fmt.Sprintf("10.77.0.%d", 10+i%hqNodes) }

// hqRegistration is instance i: a service on node i%50 with tags, meta
// and one passing check with an HTTP check's output.
func hqRegistration(i int) *consul.CatalogRegistration {
	id, node, addr := hqID(i), hqNode(i), hqAddr(i)
	port := 20000 + i
	return &consul.CatalogRegistration{
		Node:     node,
		Address:  addr,
		NodeMeta: map[string]string{"rack": fmt.Sprintf("r%d", i%hqNodes%5)},
		Service: &consul.AgentService{
			ID:      id,
			Service: hqService,
			Tags:    []string{"v1", "http"},
			Meta:    map[string]string{"version": "1.4.2"},
			Address: addr,
			Port:    port,
		},
		Check: &consul.AgentCheck{
			Node:      node,
			CheckID:   "service:" + id,
			Name:      fmt.Sprintf("Service '%s' check", hqService),
			Status:    consul.HealthPassing,
			ServiceID: id,
			Output:    fmt.Sprintf("HTTP GET http://%s:%d/health: 200 OK Output: ok", addr, port),
		},
	}
}

// syntheticEntries encodes the 1000 instances as ServiceEntry JSON, for
// the peers when muster did not run.
func syntheticEntries() []json.RawMessage {
	out := make([]json.RawMessage, hqInstances)
	for i := range out {
		reg := hqRegistration(i)
		ch := reg.Check
		b, err := json.Marshal(&consul.ServiceEntry{
			Node:    &consul.Node{Node: reg.Node, Address: reg.Address, Datacenter: "dc1", Meta: reg.NodeMeta},
			Service: reg.Service,
			Checks: consul.HealthChecks{{
				Node: ch.Node, CheckID: ch.CheckID, Name: ch.Name, Status: ch.Status, Output: ch.Output,
				ServiceID: ch.ServiceID, ServiceName: hqService, ServiceTags: reg.Service.Tags,
			}},
		})
		if err != nil {
			panic(err) // plain structs always encode
		}
		out[i] = b
	}
	return out
}

// checkEntries is the per-answer check: all 1000 distinct instances of the
// service, every check passing.
func checkEntries(es []*consul.ServiceEntry) error {
	if len(es) != hqInstances {
		return fmt.Errorf("%d entries, want %d", len(es), hqInstances)
	}
	seen := make(map[string]bool, len(es))
	for _, se := range es {
		if se == nil || se.Service == nil || se.Node == nil || se.Service.Service != hqService {
			return fmt.Errorf("entry is not an instance of %s: %+v", hqService, se)
		}
		if seen[se.Service.ID] {
			return fmt.Errorf("instance %s twice", se.Service.ID)
		}
		seen[se.Service.ID] = true
		if len(se.Checks) == 0 {
			return fmt.Errorf("instance %s has no checks", se.Service.ID)
		}
		for _, c := range se.Checks {
			if c.Status != consul.HealthPassing {
				return fmt.Errorf("instance %s: check %s is %s", se.Service.ID, c.CheckID, c.Status)
			}
		}
	}
	return nil
}

// decodeEntries decodes the peers' values, one ServiceEntry each.
func decodeEntries(n int, value func(i int) []byte) ([]*consul.ServiceEntry, error) {
	es := make([]*consul.ServiceEntry, n)
	for i := range es {
		if err := json.Unmarshal(value(i), &es[i]); err != nil {
			return nil, fmt.Errorf("value %d: %w", i, err)
		}
	}
	return es, nil
}

// apiHealthQuery measures, on muster or Consul (c, rows named system), the
// decoding row and "SYSTEM(no-decode)": the same query read as gzipped
// bytes and not decoded, which is what the server can deliver when the
// client's JSON decode is taken out. It returns the answer's entries.
func apiHealthQuery(ctx context.Context, e *env, system string, c *musterClient) ([]json.RawMessage, []*result) {
	r := newResult("health-query", system, "q/s", "query")
	out := []*result{r}
	ctx, cancel := context.WithTimeout(ctx, 2*e.cfg.duration+3*time.Minute)
	defer cancel()
	t := time.Now()
	err := forEach(ctx, hqInstances, func(ctx context.Context, i int) error {
		_, err := c.consul.Catalog().Register(hqRegistration(i), wo(ctx))
		return err
	})
	if !r.check(err == nil, "registering %d instances: %v", hqInstances, err) {
		return nil, out
	}
	r.note("%d instances on %d nodes registered in %s (PUT /v1/catalog/register, %d at a time)",
		hqInstances, hqNodes, fmtDur(time.Since(t)), setupWorkers)
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		err := forEach(cctx, hqNodes, func(ctx context.Context, n int) error {
			_, err := c.consul.Catalog().Deregister(&consul.CatalogDeregistration{Node: hqNode(n)}, wo(ctx))
			return err
		})
		r.check(err == nil, "cleanup: deregistering the nodes: %v", err)
	}()

	// The answer as bytes: its size uncompressed and gzipped, its entries
	// for the peers, and the client's decode cost alone.
	path := "/v1/health/service/" + hqService + "?passing"
	_, body, err := c.do(ctx, http.MethodGet, path, nil)
	var entries []json.RawMessage
	if err == nil {
		err = json.Unmarshal(body, &entries)
	}
	if !r.check(err == nil && len(entries) == hqInstances, "GET %s: %d entries, %v", path, len(entries), err) {
		return nil, out
	}
	gz, err := gzipped(ctx, c, path)
	if !r.check(err == nil, "GET %s gzipped: %v", path, err) {
		return nil, out
	}
	r.note("answer %d bytes uncompressed (%d per instance; the reference's ~%.2f MB), %d gzipped (the client asks for gzip)",
		len(body), len(body)/hqInstances, float64(hqRefBytes)/1e6, len(gz))
	dec, err := decodeTime(body)
	if r.check(err == nil, "decoding the answer: %v", err) {
		r.note("decoding one answer into []*ServiceEntry takes %s on one goroutine: at most %.0f q/s on this client's %d cores, whatever the server",
			fmtDur(dec), float64(runtime.GOMAXPROCS(0))/dec.Seconds(), runtime.GOMAXPROCS(0))
	}

	health := c.consul.Health()
	l := hammer(ctx, e.cfg.clients, e.cfg.duration, e.cfg.maxOps, opTimeout, func(ctx context.Context, w, seq int) error {
		es, _, err := health.Service(hqService, "", true, qo(ctx))
		if err != nil {
			return err
		}
		return checkEntries(es)
	})
	r.fromLoad(l)

	// no-decode: the gzipped answer read off the wire and compared with
	// the one checked above (the same bytes while nothing changes).
	nd := newResult("health-query", system+"(no-decode)", "q/s", "query")
	out = append(out, nd)
	l = hammer(ctx, e.cfg.clients, e.cfg.duration, e.cfg.maxOps, opTimeout, func(ctx context.Context, w, seq int) error {
		b, err := gzipped(ctx, c, path)
		if err == nil && !bytes.Equal(b, gz) {
			err = fmt.Errorf("gzipped answer of %d bytes differs from the checked one (%d bytes)", len(b), len(gz))
		}
		return err
	})
	nd.fromLoad(l)
	nd.note("gzipped answer read and compared byte for byte with the decoded and checked one; no decompression, no decode")
	return entries, out
}

// decodeTime is the fastest of five decodes of an answer into the Consul
// client's structs, as its Health().Service decodes it.
func decodeTime(body []byte) (time.Duration, error) {
	best := time.Duration(math.MaxInt64)
	for range 5 {
		t := time.Now()
		var es []*consul.ServiceEntry
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&es); err != nil {
			return 0, err
		}
		best = min(best, time.Since(t))
		if err := checkEntries(es); err != nil {
			return 0, err
		}
	}
	return best, nil
}

// gzipped fetches path asking for gzip and returns the bytes on the wire
// (net/http does not decompress when the caller set the header).
func gzipped(ctx context.Context, c *musterClient, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return nil, err
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET %s -> %d %q", path, resp.StatusCode, b)
	case resp.Header.Get("Content-Encoding") != "gzip":
		return nil, fmt.Errorf("answer not gzipped (Content-Encoding %q)", resp.Header.Get("Content-Encoding"))
	}
	return b, nil
}

// etcdHealthQuery: the instances as 1000 keys under one prefix; a query is
// a (linearizable) range get of the prefix, each value decoded.
func etcdHealthQuery(ctx context.Context, e *env, entries []json.RawMessage) *result {
	r := newResult("health-query", "etcd", "q/s", "query")
	ctx, cancel := context.WithTimeout(ctx, e.cfg.duration+3*time.Minute)
	defer cancel()
	err := forEach(ctx, len(entries), func(ctx context.Context, i int) error {
		_, err := e.etcd.client(i).Put(ctx, hqPrefix+hqID(i), string(entries[i]))
		return err
	})
	defer func() {
		_, err := e.etcd.client(0).Delete(context.Background(), hqPrefix, clientv3.WithPrefix())
		r.check(err == nil, "cleanup: %v", err)
	}()
	if !r.check(err == nil, "storing %d instances: %v", len(entries), err) {
		return r
	}
	var answer int
	l := hammer(ctx, e.cfg.clients, e.cfg.duration, e.cfg.maxOps, opTimeout, func(ctx context.Context, w, seq int) error {
		g, err := e.etcd.client(w).Get(ctx, hqPrefix, clientv3.WithPrefix())
		if err != nil {
			return err
		}
		es, err := decodeEntries(len(g.Kvs), func(i int) []byte { return g.Kvs[i].Value })
		if err != nil {
			return err
		}
		if w == 0 && seq == 0 {
			for _, kv := range g.Kvs {
				answer += len(kv.Key) + len(kv.Value)
			}
		}
		return checkEntries(es)
	})
	r.fromLoad(l)
	r.note("answer %d bytes of keys and values (range get of %s, %d keys)", answer, hqPrefix, len(entries))
	return r
}

// redisHealthQuery: the instances as the 1000 fields of one hash; a query
// is HGETALL, each value decoded.
func redisHealthQuery(ctx context.Context, e *env, entries []json.RawMessage) *result {
	r := newResult("health-query", "redis", "q/s", "query")
	rc := e.redis
	ctx, cancel := context.WithTimeout(ctx, e.cfg.duration+3*time.Minute)
	defer cancel()
	fields := make(map[string]any, len(entries))
	for i, en := range entries {
		fields[hqID(i)] = []byte(en)
	}
	err := rc.HSet(ctx, hqPrefix, fields).Err()
	defer func() {
		err := rc.Del(context.Background(), hqPrefix).Err()
		r.check(err == nil, "cleanup: %v", err)
	}()
	if !r.check(err == nil, "storing %d instances: %v", len(entries), err) {
		return r
	}
	var answer int
	l := hammer(ctx, e.cfg.clients, e.cfg.duration, e.cfg.maxOps, opTimeout, func(ctx context.Context, w, seq int) error {
		m, err := rc.HGetAll(ctx, hqPrefix).Result()
		if err != nil {
			return err
		}
		vals := make([][]byte, 0, len(m))
		for k, v := range m {
			vals = append(vals, []byte(v))
			if w == 0 && seq == 0 {
				answer += len(k) + len(v)
			}
		}
		es, err := decodeEntries(len(vals), func(i int) []byte { return vals[i] })
		if err != nil {
			return err
		}
		return checkEntries(es)
	})
	r.fromLoad(l)
	r.note("answer %d bytes of fields and values (HGETALL %s, %d fields)", answer, hqPrefix, len(entries))
	return r
}
