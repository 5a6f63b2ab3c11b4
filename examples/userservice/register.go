package main

import (
	"fmt"
	"strconv"

	consul "github.com/hashicorp/consul/api"
)

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
