package agent_test

import (
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/internal/testagent"
)

// Services and checks registered through a client agent's API survive its
// restart (kept in its data directory): the catalog never loses them, and
// one deregistered before the restart stays gone.
func TestAgent_RegistrationsSurviveRestart(t *testing.T) {
	c := testagent.StartCluster(t, 1, 1)
	old := c.Clients[0]
	ag := old.Client.Client.Agent()
	regs := []*consulapi.AgentServiceRegistration{
		{ID: "web-1", Name: "web", Port: 80, Tags: []string{"v1"},
			Check: &consulapi.AgentServiceCheck{TTL: "1h", Status: "passing"}},
		{ID: "gone", Name: "gone", Port: 81},
	}
	for _, r := range regs {
		if err := ag.ServiceRegister(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := ag.CheckRegister(&consulapi.AgentCheckRegistration{Name: "disk", AgentServiceCheck: consulapi.AgentServiceCheck{TTL: "1h"}}); err != nil {
		t.Fatal(err)
	}
	if err := ag.ServiceDeregister("gone"); err != nil {
		t.Fatal(err)
	}

	old.Shutdown()
	c.RestartClient(0, old)
	back := c.Clients[0].Client.Client.Agent()
	svcs, err := back.Services()
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := svcs["web-1"]; !ok || s.Port != 80 || len(s.Tags) != 1 {
		t.Fatalf("services after restart: %v", svcs)
	}
	if _, ok := svcs["gone"]; ok {
		t.Fatal("a deregistered service came back")
	}
	checks, err := back.Checks()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := checks["disk"]; !ok {
		t.Fatalf("checks after restart: %v", checks)
	}
	if _, ok := checks["service:web-1"]; !ok {
		t.Fatalf("service check after restart: %v", checks)
	}
	server := c.Servers[0].Client.Client
	testagent.WaitFor(t, 10*time.Second, "web-1 in the catalog", func() bool {
		s, _, err := server.Catalog().Service("web", "", nil)
		return err == nil && len(s) == 1 && s[0].ServiceID == "web-1"
	})
}
