package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	consul "github.com/hashicorp/consul/api"
	"github.com/redis/go-redis/v9"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const (
	// regService is the service name every reg-dereg instance registers
	// under; instance IDs are regService-WW-SEQ.
	regService = "bench-reg"
	// regTTL is the TTL of the check each registration carries (muster),
	// of the lease (etcd) and of the key (Redis).
	regTTL = 30 * time.Second
	// regPrefix is where the peers keep an instance: PREFIX + ID.
	regPrefix = "bench/reg/"
)

// regVariant is one way to register a service instance with a TTL and
// remove it again.
type regVariant struct {
	system string
	// register registers instance id for worker w and returns the call
	// that deregisters it.
	register func(ctx context.Context, w int, id string, body []byte) (deregister func(context.Context) error, err error)
	// present checks that id is registered, with its TTL.
	present func(ctx context.Context, id string) error
	// leftovers describes what of the bench's instances is still
	// registered, or "" when nothing is.
	leftovers func(ctx context.Context) (string, error)
	// catalogLag bounds how long present and leftovers may take to see a
	// registration or a removal: 0 for muster, whose agent answers once
	// the catalog has the change; Consul's agent answers at once and
	// syncs its catalog in the background (anti-entropy), so its checks
	// poll for up to this long.
	catalogLag time.Duration
}

// consulCatalogLag is the "consul" variant's catalogLag.
const consulCatalogLag = 10 * time.Second

// eventually runs check once, or, for a variant whose catalog lags, every
// 20 ms until it passes or catalogLag is over. It returns check's last
// error and how long it took to pass.
func (v regVariant) eventually(ctx context.Context, check func(context.Context) error) (time.Duration, error) {
	if v.catalogLag == 0 {
		return 0, check(ctx)
	}
	t := time.Now()
	err := poll(ctx, v.catalogLag, 20*time.Millisecond, check)
	return time.Since(t), err
}

// nothingLeft is v.leftovers as a check: an error while anything is left.
func (v regVariant) nothingLeft(ctx context.Context) error {
	left, err := v.leftovers(ctx)
	if err == nil && left != "" {
		err = errors.New(left)
	}
	return err
}

// regDereg: every worker loops register an instance with a TTL check, then
// deregister it. One op is ONE call (a register or a deregister), as in the
// reference; the latency is one call. Checks: a probe instance is visible
// (with its check) after registering, and at the end none of the bench's
// instances is left.
func regDereg(ctx context.Context, e *env) []*result {
	var out []*result
	for _, v := range e.regVariants() {
		out = append(out, runRegDereg(ctx, e, v))
	}
	return out
}

func regID(w, seq int) string { return fmt.Sprintf("%s-%02d-%08d", regService, w, seq) }

// regBody is the registration: Consul's AgentServiceRegistration with a
// TTL check. The peers store these same bytes as the instance's value.
func regBody(w int, id string) *consul.AgentServiceRegistration {
	return &consul.AgentServiceRegistration{
		ID:    id,
		Name:  regService,
		Port:  20000 + w,
		Check: &consul.AgentServiceCheck{TTL: regTTL.String()},
	}
}

func runRegDereg(ctx context.Context, e *env, v regVariant) *result {
	r := newResult("reg-dereg", v.system, "ops/s", "reg or dereg")
	ctx, cancel := context.WithTimeout(ctx, e.cfg.duration+2*time.Minute)
	defer cancel()
	left, err := v.leftovers(ctx)
	if err != nil || left != "" {
		r.fail("before the run: %s %v", left, err)
		return r
	}
	// The probe: one registration must be visible before the timed loop,
	// so that "nothing left" at the end is not trivially true.
	probe := regService + "-probe"
	body, _ := json.Marshal(regBody(0, probe))
	dereg, err := v.register(ctx, 0, probe, body)
	if !r.check(err == nil, "probe register: %v", err) {
		return r
	}
	took, err := v.eventually(ctx, func(ctx context.Context) error { return v.present(ctx, probe) })
	r.check(err == nil, "probe %s not visible after registering: %v", probe, err)
	if v.catalogLag > 0 && err == nil {
		r.note("the probe was visible everywhere %s after its register returned (the catalog syncs in the background)", fmtDur(took))
	}
	if err := dereg(ctx); !r.check(err == nil, "probe deregister: %v", err) {
		return r
	}

	regLat := make([]latencies, e.cfg.clients)
	deregLat := make([]latencies, e.cfg.clients)
	l := hammer(ctx, e.cfg.clients, e.cfg.duration, e.cfg.maxOps, opTimeout, func(ctx context.Context, w, seq int) error {
		id := regID(w, seq)
		body, err := json.Marshal(regBody(w, id))
		if err != nil {
			return err
		}
		t := time.Now()
		dereg, err := v.register(ctx, w, id, body)
		if err != nil {
			return fmt.Errorf("register %s: %w", id, err)
		}
		regLat[w] = append(regLat[w], time.Since(t))
		t = time.Now()
		if err := dereg(ctx); err != nil {
			return fmt.Errorf("deregister %s: %w", id, err)
		}
		deregLat[w] = append(deregLat[w], time.Since(t))
		return nil
	})
	// A hammer op is a register+deregister pair; the row counts calls.
	var regs, deregs, all latencies
	for w := range e.cfg.clients {
		regs = append(regs, regLat[w]...)
		deregs = append(deregs, deregLat[w]...)
	}
	all = append(append(all, regs...), deregs...)
	r.value = float64(len(all)) / l.elapsed.Seconds()
	r.lat = all.summarize()
	if l.errs > 0 || l.err != nil {
		r.fail("%d errors, first: %v", l.errs, l.err)
	}
	rs, ds := regs.summarize(), deregs.summarize()
	r.note("%d calls in %s: %d registers (p50 %s p99 %s), %d deregisters (p50 %s p99 %s)",
		len(all), fmtDur(l.elapsed), rs.n, fmtDur(rs.p50), fmtDur(rs.p99), ds.n, fmtDur(ds.p50), fmtDur(ds.p99))

	vctx, vcancel := context.WithTimeout(ctx, time.Minute)
	defer vcancel()
	took, err = v.eventually(vctx, v.nothingLeft)
	r.check(err == nil, "after the run: %v", err)
	if v.catalogLag > 0 && err == nil {
		r.note("nothing left everywhere %s after the run (the catalog syncs in the background)", fmtDur(took))
	}
	return r
}

// regVariants lists the selected systems' registrations.
func (e *env) regVariants() []regVariant {
	var vs []regVariant
	if c := e.muster; c != nil {
		vs = append(vs, apiReg("muster", c, 0))
	}
	if c := e.consul; c != nil {
		vs = append(vs, apiReg("consul", c, consulCatalogLag))
	}
	if et := e.etcd; et != nil {
		vs = append(vs, etcdReg(et))
	}
	if rc := e.redis; rc != nil {
		vs = append(vs, redisReg(rc))
	}
	return vs
}

// apiReg: PUT /v1/agent/service/register with a TTL check and PUT
// /v1/agent/service/deregister/ID, through the Consul Go client, on muster
// or Consul (system); catalogLag as in regVariant. muster answers once the
// change is in the catalog, Consul once it is in its agent's local state.
func apiReg(system string, c *musterClient, catalogLag time.Duration) regVariant {
	agent := c.consul.Agent()
	return regVariant{
		system:     system,
		catalogLag: catalogLag,
		register: func(ctx context.Context, w int, id string, _ []byte) (func(context.Context) error, error) {
			if err := agent.ServiceRegisterOpts(regBody(w, id), consul.ServiceRegisterOpts{}.WithContext(ctx)); err != nil {
				return nil, err
			}
			return func(ctx context.Context) error { return agent.ServiceDeregisterOpts(id, qo(ctx)) }, nil
		},
		present: func(ctx context.Context, id string) error {
			svcs, err := agent.ServicesWithFilterOpts("", qo(ctx))
			if err != nil {
				return err
			}
			if _, ok := svcs[id]; !ok {
				return fmt.Errorf("not in /v1/agent/services")
			}
			cat, _, err := c.consul.Catalog().Service(regService, "", qo(ctx))
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(cat, func(s *consul.CatalogService) bool { return s.ServiceID == id }) {
				return fmt.Errorf("not in /v1/catalog/service/%s", regService)
			}
			chks, _, err := c.consul.Health().Checks(regService, qo(ctx))
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(chks, func(h *consul.HealthCheck) bool { return h.ServiceID == id && h.Type == "ttl" }) {
				return fmt.Errorf("no TTL check in /v1/health/checks/%s: %+v", regService, chks)
			}
			return nil
		},
		leftovers: func(ctx context.Context) (string, error) {
			var left []string
			svcs, err := agent.ServicesWithFilterOpts("", qo(ctx))
			if err != nil {
				return "", err
			}
			for id := range svcs {
				if strings.HasPrefix(id, regService) {
					left = append(left, id)
				}
			}
			chks, err := agent.ChecksWithFilterOpts("", qo(ctx))
			if err != nil {
				return "", err
			}
			for id, ch := range chks {
				if strings.HasPrefix(ch.ServiceID, regService) {
					left = append(left, "check "+id)
				}
			}
			names, _, err := c.consul.Catalog().Services(qo(ctx))
			if err != nil {
				return "", err
			}
			if _, ok := names[regService]; ok {
				left = append(left, "catalog service "+regService)
			}
			return describeLeft(left, "in /v1/agent/services, /v1/agent/checks, /v1/catalog/services"), nil
		},
	}
}

// etcdReg: the usual etcd service registration: Grant a lease with the
// TTL, Put the instance key with it; deregistration Deletes the key and
// Revokes the lease. Each call is two round trips (two fsyncs).
func etcdReg(et *etcdPeer) regVariant {
	leasesBefore := -1 // the leases that are not the bench's, counted before the run
	return regVariant{
		system: "etcd",
		register: func(ctx context.Context, w int, id string, body []byte) (func(context.Context) error, error) {
			cli := et.client(w)
			g, err := cli.Grant(ctx, int64(regTTL/time.Second))
			if err != nil {
				return nil, fmt.Errorf("grant: %w", err)
			}
			key := regPrefix + id
			if _, err := cli.Put(ctx, key, string(body), clientv3.WithLease(g.ID)); err != nil {
				return nil, fmt.Errorf("put: %w", err)
			}
			return func(ctx context.Context) error {
				if _, err := cli.Delete(ctx, key); err != nil {
					return fmt.Errorf("delete: %w", err)
				}
				if _, err := cli.Revoke(ctx, g.ID); err != nil {
					return fmt.Errorf("revoke: %w", err)
				}
				return nil
			}, nil
		},
		present: func(ctx context.Context, id string) error {
			g, err := et.client(0).Get(ctx, regPrefix+id)
			switch {
			case err != nil:
				return err
			case len(g.Kvs) != 1:
				return fmt.Errorf("key %s missing", regPrefix+id)
			case g.Kvs[0].Lease == 0:
				return fmt.Errorf("key %s has no lease", regPrefix+id)
			}
			return nil
		},
		leftovers: func(ctx context.Context) (string, error) {
			cli := et.client(0)
			g, err := cli.Get(ctx, regPrefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
			if err != nil {
				return "", err
			}
			var left []string
			for _, kv := range g.Kvs {
				left = append(left, string(kv.Key))
			}
			ls, err := cli.Leases(ctx)
			if err != nil {
				return "", err
			}
			// The first call (before the run) counts the leases that are
			// not the bench's; later calls report the surplus.
			if leasesBefore < 0 {
				leasesBefore = len(ls.Leases)
			} else if n := len(ls.Leases) - leasesBefore; n > 0 {
				left = append(left, fmt.Sprintf("%d leases more than before the run", n))
			}
			return describeLeft(left, "under "+regPrefix+" and in the lease list"), nil
		},
	}
}

// redisReg: SET ID BODY EX 30 and DEL ID. Redis has no registry; a key
// with an expiry is the nearest thing to an instance with a TTL, and much
// less: no check, no catalog, no persistence.
func redisReg(rc *redis.Client) regVariant {
	return regVariant{
		system: "redis(set-ex)",
		register: func(ctx context.Context, _ int, id string, body []byte) (func(context.Context) error, error) {
			key := regPrefix + id
			if err := rc.Set(ctx, key, body, regTTL).Err(); err != nil {
				return nil, err
			}
			return func(ctx context.Context) error {
				n, err := rc.Del(ctx, key).Result()
				if err == nil && n != 1 {
					err = fmt.Errorf("DEL %s removed %d keys", key, n)
				}
				return err
			}, nil
		},
		present: func(ctx context.Context, id string) error {
			ttl, err := rc.TTL(ctx, regPrefix+id).Result()
			if err == nil && ttl <= 0 {
				err = fmt.Errorf("key %s: TTL %v", regPrefix+id, ttl)
			}
			return err
		},
		leftovers: func(ctx context.Context) (string, error) {
			var left []string
			iter := rc.Scan(ctx, 0, regPrefix+"*", 10000).Iterator()
			for iter.Next(ctx) {
				left = append(left, iter.Val())
			}
			return describeLeft(left, "under "+regPrefix), iter.Err()
		},
	}
}

// describeLeft summarizes leftovers: "" for none.
func describeLeft(left []string, where string) string {
	if len(left) == 0 {
		return ""
	}
	slices.Sort(left)
	more := ""
	if len(left) > 5 {
		more = fmt.Sprintf(" and %d more", len(left)-5)
		left = left[:5]
	}
	return fmt.Sprintf("left %s: %s%s", where, strings.Join(left, ", "), more)
}
