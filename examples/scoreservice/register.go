package main

import (
	"fmt"
	"net"
	"strconv"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/examples/scoreservice/scorepb"
)

// checkTimeout bounds one health probe, as in the seed's registration.
const checkTimeout = "5s"

// deregisterCriticalAfter is how long the agent keeps the instance while
// its check is critical. The seed has 5s; it must outlast the drain here,
// or the agent would drop the draining instance and sdk/register, which
// keeps it registered, would put it back.
const deregisterCriticalAfter = "1m"

// registration is the seed's gRPC ConsulHelper registration, with the HTTP
// check on a second port replaced by a gRPC health check on the service's
// own port, for the score.Score service's status. The weight goes where
// Consul reads it (Weights) and where the course looks for it (Meta).
func registration(c *config) *consulapi.AgentServiceRegistration {
	w := strconv.Itoa(c.Weight)
	addr := net.JoinHostPort(c.IP, strconv.Itoa(c.Port))
	return &consulapi.AgentServiceRegistration{
		ID:      fmt.Sprintf("%s-%s-%d", c.Name, c.IP, c.Port),
		Name:    c.Name,
		Address: c.IP,
		Port:    c.Port,
		Tags:    []string{"grpc"},
		Meta:    map[string]string{"weight": w},
		Weights: &consulapi.AgentWeights{Passing: c.Weight, Warning: 1},
		Check: &consulapi.AgentServiceCheck{
			GRPC:                           addr + "/" + scorepb.Score_ServiceDesc.ServiceName,
			Interval:                       c.CheckInterval.String(),
			Timeout:                        checkTimeout,
			DeregisterCriticalServiceAfter: deregisterCriticalAfter,
		},
	}
}
