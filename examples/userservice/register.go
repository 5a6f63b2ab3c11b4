package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	consul "github.com/hashicorp/consul/api"
)

// Backoff between registration attempts: it doubles from the first to the
// cap and stays there until the agent answers.
const (
	retryFirst = 200 * time.Millisecond
	retryMax   = 5 * time.Second
	// attemptTimeout bounds one request, so an address that drops packets
	// (an agent container not up yet) does not stall a retry for the
	// transport's 30 s dial timeout.
	attemptTimeout = 5 * time.Second
)

// registrar registers one instance with the local agent and removes it.
type registrar struct {
	client *consul.Client
	reg    *consul.AgentServiceRegistration // immutable
	log    *slog.Logger
}

func newRegistrar(c *config, log *slog.Logger) (*registrar, error) {
	cc := consul.DefaultConfig() // also reads CONSUL_HTTP_TOKEN and friends
	cc.Address = c.Agent
	client, err := consul.NewClient(cc)
	if err != nil {
		return nil, err
	}
	return &registrar{client: client, reg: registration(c), log: log}, nil
}

// registration is the seed's ConsulRegist, field for field, plus the weight
// where Consul reads it (Weights) and where people look for it (Meta).
func registration(c *config) *consul.AgentServiceRegistration {
	w := strconv.Itoa(c.Weight)
	meta := map[string]string{"weight": w}
	if c.ClusterChecks {
		// The seed's open problem: without this, the instance vanishes
		// with the client agent that registered it.
		meta["muster-check-owner"] = "cluster"
	}
	return &consul.AgentServiceRegistration{
		ID:      fmt.Sprintf("%s-%s-%d", c.Name, c.IP, c.Port),
		Name:    c.Name,
		Address: c.IP,
		Port:    c.Port,
		Tags:    []string{w}, // the course's WeightDispatcher reads Tags[0]
		Meta:    meta,
		Weights: &consul.AgentWeights{Passing: c.Weight, Warning: 1},
		Check: &consul.AgentServiceCheck{
			HTTP:                           "http://" + c.instance() + "/api/health/index",
			Interval:                       "12s",
			Timeout:                        "5s",
			DeregisterCriticalServiceAfter: "20s",
		},
	}
}

// register puts the registration to the agent, retrying with backoff until
// the agent accepts it, refuses it for good (a 4xx answer), or ctx is done.
func (r *registrar) register(ctx context.Context) error {
	wait := retryFirst
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := r.client.Agent().ServiceRegisterOpts(r.reg, consul.ServiceRegisterOpts{}.WithContext(actx))
		cancel()
		if err == nil {
			r.log.Info("registered", "id", r.reg.ID, "name", r.reg.Name, "weight", r.reg.Meta["weight"], "attempts", attempt)
			return nil
		}
		if permanent(err) {
			return fmt.Errorf("agent refused the registration: %w", err)
		}
		r.log.Warn("register: agent not ready; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMax)
	}
}

// permanent says whether the agent answered with a client error, which
// retrying the same request cannot fix.
func permanent(err error) bool {
	var se consul.StatusError
	return errors.As(err, &se) && se.Code >= 400 && se.Code < 500 && se.Code != http.StatusTooManyRequests
}

// deregister removes the instance from the agent.
func (r *registrar) deregister(ctx context.Context) error {
	q := (&consul.QueryOptions{}).WithContext(ctx)
	if err := r.client.Agent().ServiceDeregisterOpts(r.reg.ID, q); err != nil {
		return err
	}
	r.log.Info("deregistered", "id", r.reg.ID)
	return nil
}
