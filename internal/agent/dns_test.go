package agent_test

import (
	"slices"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"
	"github.com/miekg/dns"

	"github.com/musterhq/muster/internal/testagent"
)

// The seed's discovery path end to end: services registered on the agent
// with TTL checks, answered over DNS with only the healthy instances.
func TestAgentDNS_OnlyHealthyInstances(t *testing.T) {
	a := testagent.Start(t)
	ag := a.Client.Agent()
	for i, addr := range []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"} {
		id := "user-" + string(rune('1'+i))
		if err := ag.ServiceRegister(&consul.AgentServiceRegistration{ID: id, Name: "UserService", Address: addr,
			Port: 5726 + i, Check: &consul.AgentServiceCheck{CheckID: id + "-ttl", TTL: "1m", Status: "passing"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ag.FailTTL("user-2-ttl", "down"); err != nil {
		t.Fatal(err)
	}
	query := func(name string, qtype uint16) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		in, err := dns.Exchange(m, a.DNSAddr())
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	testagent.WaitFor(t, 5*time.Second, "DNS to show the two healthy instances", func() bool {
		var got []string
		for _, rr := range query("userservice.service.consul.", dns.TypeA).Answer {
			got = append(got, rr.(*dns.A).A.String())
		}
		slices.Sort(got)
		return slices.Equal(got, []string{"127.0.0.11", "127.0.0.13"})
	})
	srv := query("_userservice._tcp.service.consul.", dns.TypeSRV)
	if len(srv.Answer) != 2 {
		t.Fatalf("SRV answers: %v", srv.Answer)
	}
	for _, rr := range srv.Answer {
		if p := rr.(*dns.SRV).Port; p != 5726 && p != 5728 {
			t.Fatalf("SRV port %d is not a healthy instance's", p)
		}
	}
	if m := query("nothing.service.consul.", dns.TypeA); m.Rcode != dns.RcodeNameError {
		t.Fatalf("unknown service: rcode %d", m.Rcode)
	}
}
