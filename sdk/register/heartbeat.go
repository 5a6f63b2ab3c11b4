package register

import (
	"context"
	"fmt"
	"time"

	consulapi "github.com/hashicorp/consul/api"
)

// minBeat is the shortest heartbeat period, whatever the TTL.
const minBeat = 100 * time.Millisecond

// ttlChecks lists the registration's TTL checks with the IDs the agent gives
// them: the check's own CheckID, else "service:ID" for a lone Check and
// "service:ID:N" (N from 1) for the Checks list, as Consul numbers them.
func ttlChecks(reg *consulapi.AgentServiceRegistration) ([]ttlCheck, error) {
	var all []*consulapi.AgentServiceCheck
	if reg.Check != nil {
		all = append(all, reg.Check)
	}
	all = append(all, reg.Checks...)
	var out []ttlCheck
	for i, ck := range all {
		if ck.TTL == "" {
			continue
		}
		ttl, err := time.ParseDuration(ck.TTL)
		if err != nil || ttl <= 0 {
			return nil, fmt.Errorf("%w: check TTL %q is not a positive duration", ErrRefused, ck.TTL)
		}
		id := ck.CheckID
		if id == "" {
			id = "service:" + reg.ID
			if len(all) > 1 {
				id = fmt.Sprintf("service:%s:%d", reg.ID, i+1)
			}
		}
		out = append(out, ttlCheck{id: id, ttl: ttl})
	}
	return out, nil
}

// heartbeat reports the instance's health to its TTL checks at a third of
// the shortest TTL, starting at once, and whenever beatNow asks, until ctx
// ends. It is the only caller of beat, so Options.Health is never called
// concurrently.
func (r *Registration) heartbeat(ctx context.Context) {
	period := r.ttls[0].ttl
	for _, c := range r.ttls[1:] {
		period = min(period, c.ttl)
	}
	period = max(period/3, minBeat)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		r.beat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.kick:
		}
	}
}

// beatNow asks the heartbeat to beat at once, without waiting for it. It
// does nothing if the registration has no TTL check.
func (r *Registration) beatNow() {
	select {
	case r.kick <- struct{}{}:
	default: // a beat is already asked for
	}
}

// beat asks Options.Health once and sends the answer to every TTL check.
// Failures are logged: the next beat retries, and the watch re-registers an
// instance the agent forgot.
func (r *Registration) beat(ctx context.Context) {
	status, output := consulapi.HealthPassing, "ok"
	if r.opts.Health != nil {
		if err := r.opts.Health(ctx); err != nil {
			status, output = consulapi.HealthCritical, err.Error()
		}
	}
	if ctx.Err() != nil {
		return
	}
	for _, c := range r.ttls {
		q := (&consulapi.QueryOptions{}).WithContext(ctx)
		if err := r.c.Agent().UpdateTTLOpts(c.id, output, status, q); err != nil && ctx.Err() == nil {
			r.log.Debug("ttl update failed", "check", c.id, "err", err)
		}
	}
}
