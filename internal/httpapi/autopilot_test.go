package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/internal/agent"
	"github.com/musterhq/muster/internal/testagent"
)

// autopilotHealth reads the health report with Consul's client, which
// accepts 200 and 429 (unhealthy).
func autopilotHealth(c *consulapi.Client) (*consulapi.OperatorHealthReply, error) {
	return c.Operator().AutopilotServerHealth(nil)
}

// A dev agent is a healthy one-server cluster that cannot lose a server.
func TestAutopilotHealth_Dev(t *testing.T) {
	a := testagent.Start(t)
	var h *consulapi.OperatorHealthReply
	testagent.WaitFor(t, 5*time.Second, "a healthy report", func() bool {
		var err error
		h, err = autopilotHealth(a.Client.Client)
		return err == nil && h.Healthy
	})
	if h.FailureTolerance != 0 || len(h.Servers) != 1 {
		t.Fatalf("report %+v, want one server and failure tolerance 0", h)
	}
	s := h.Servers[0]
	if s.Name != a.Config.NodeName || !s.Leader || !s.Voter || !s.Healthy || s.SerfStatus != "alive" || s.Version != agent.Version {
		t.Errorf("server %+v", s)
	}
	if s.LastContact == nil || s.LastContact.Duration() != 0 {
		t.Errorf("leader's LastContact = %v, want 0s", s.LastContact)
	}
	if s.LastIndex == 0 || s.LastTerm == 0 || s.StableSince.IsZero() {
		t.Errorf("LastIndex %d, LastTerm %d, StableSince %v: want them set", s.LastIndex, s.LastTerm, s.StableSince)
	}

	if code, body := do(t, a, "GET", "/v1/operator/autopilot/health", nil); code != http.StatusOK {
		t.Errorf("healthy: status %d %s, want 200", code, body)
	}
	if code, _ := do(t, a, "GET", "/v1/operator/autopilot/health?dc=other", nil); code == http.StatusOK {
		t.Error("another datacenter answered 200")
	}
	// The servers' own numbers are asked for on the server port only.
	if code, _ := do(t, a, "GET", "/v1/internal/raft-stats?stale", nil); code != http.StatusNotFound {
		t.Errorf("/v1/internal/raft-stats on the HTTP port: status %d, want 404", code)
	}
}

// Three servers: the leader reports each from its own numbers; a killed
// follower turns unhealthy (gossip declares it failed and it stops
// answering), the cluster unhealthy (429) with no failure tolerance left.
func TestAutopilotHealth_Cluster(t *testing.T) {
	c := testagent.StartCluster(t, 3, 0)
	leader := c.WaitLeader(10 * time.Second)
	var follower *testagent.Agent
	for _, s := range c.Servers {
		if s != leader {
			follower = s
		}
	}

	var h *consulapi.OperatorHealthReply
	testagent.WaitFor(t, 15*time.Second, "three healthy servers", func() bool {
		var err error
		// Asked of a follower, which forwards it to the leader.
		h, err = autopilotHealth(follower.Client.Client)
		return err == nil && h.Healthy && len(h.Servers) == 3
	})
	if h.FailureTolerance != 1 {
		t.Errorf("FailureTolerance = %d, want 1", h.FailureTolerance)
	}
	leaders := 0
	for _, s := range h.Servers {
		if s.Leader {
			leaders++
			if s.Name != leader.Config.NodeName {
				t.Errorf("leader is %s, want %s", s.Name, leader.Config.NodeName)
			}
		}
		if !s.Voter || s.SerfStatus != "alive" || s.LastContact == nil || s.LastIndex == 0 || s.LastTerm != h.Servers[0].LastTerm {
			t.Errorf("server %+v", s)
		}
	}
	if leaders != 1 {
		t.Errorf("%d leaders in %+v", leaders, h.Servers)
	}

	var victim int
	for i, s := range c.Servers {
		if s == follower {
			victim = i
		}
	}
	name := follower.Config.NodeName
	c.Kill(victim)
	testagent.WaitFor(t, 20*time.Second, name+" failed and unhealthy", func() bool {
		var err error
		h, err = autopilotHealth(leader.Client.Client)
		if err != nil {
			return false
		}
		for _, s := range h.Servers {
			if s.Name == name {
				return !s.Healthy && s.SerfStatus == "failed"
			}
		}
		return false
	})
	if h.Healthy || h.FailureTolerance != 0 || len(h.Servers) != 3 {
		t.Errorf("after the kill: Healthy %v, FailureTolerance %d, %d servers; want false, 0, 3", h.Healthy, h.FailureTolerance, len(h.Servers))
	}
	for _, s := range h.Servers {
		if s.Name == name && s.LastContact.Duration() >= 0 {
			t.Errorf("dead server's LastContact = %v, want unknown (negative)", s.LastContact.Duration())
		}
	}
	if code, body := do(t, leader, "GET", "/v1/operator/autopilot/health", nil); code != http.StatusTooManyRequests {
		t.Errorf("unhealthy: status %d %s, want 429", code, body)
	}
}
