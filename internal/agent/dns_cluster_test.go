package agent_test

import (
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	"github.com/miekg/dns"

	"github.com/musterhq/muster/internal/testagent"
)

// A client agent keeps no catalog: its DNS interface answers from the
// servers', as Consul's does.
func TestCluster_ClientAgentDNS(t *testing.T) {
	c := testagent.StartCluster(t, 3, 1)
	cl := c.Clients[0]
	if cl.DNSAddr() == "" {
		t.Fatal("the client agent serves no DNS")
	}
	if err := cl.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
		ID: "web-1", Name: "web", Port: 8080,
		Check: &consulapi.AgentServiceCheck{CheckID: "web-ttl", TTL: "1m", Status: "passing"},
	}); err != nil {
		t.Fatal(err)
	}
	query := func(name string, qtype uint16) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		in, err := dns.Exchange(m, cl.DNSAddr())
		if err != nil {
			t.Fatal(err)
		}
		return in
	}

	// The registration reaches the servers by anti-entropy, and their
	// followers by replication: wait for the first answer.
	var a *dns.Msg
	testagent.WaitFor(t, 10*time.Second, "the client's DNS to answer web.service.consul", func() bool {
		a = query("web.service.consul.", dns.TypeA)
		return a.Rcode == dns.RcodeSuccess && len(a.Answer) == 1
	})
	if rr, ok := a.Answer[0].(*dns.A); !ok || rr.A.String() != "127.0.0.1" {
		t.Fatalf("web A: %v", a.Answer)
	}

	srv := query("_web._tcp.service.consul.", dns.TypeSRV)
	if srv.Rcode != dns.RcodeSuccess || len(srv.Answer) != 1 {
		t.Fatalf("web SRV: rcode %s, answer %v", dns.RcodeToString[srv.Rcode], srv.Answer)
	}
	if rr, ok := srv.Answer[0].(*dns.SRV); !ok || rr.Port != 8080 || rr.Target != "c1.node.dc1.consul." {
		t.Fatalf("web SRV: %v", srv.Answer)
	}
	if len(srv.Extra) == 0 {
		t.Fatalf("web SRV: no address for the target: %v", srv.Extra)
	}

	node := query("c1.node.consul.", dns.TypeA)
	if node.Rcode != dns.RcodeSuccess || len(node.Answer) != 1 {
		t.Fatalf("c1 A: rcode %s, answer %v", dns.RcodeToString[node.Rcode], node.Answer)
	}
	if rr, ok := node.Answer[0].(*dns.A); !ok || rr.A.String() != "127.0.0.1" {
		t.Fatalf("c1 A: %v", node.Answer)
	}

	// The servers' "consul" service names the zone's name servers.
	testagent.WaitFor(t, 10*time.Second, "three name servers", func() bool {
		return len(query("consul.", dns.TypeNS).Answer) == 3
	})

	for _, name := range []string{"nothing.service.consul.", "nothing.node.consul."} {
		if m := query(name, dns.TypeA); m.Rcode != dns.RcodeNameError {
			t.Fatalf("%s: rcode %s, want NXDOMAIN", name, dns.RcodeToString[m.Rcode])
		}
	}

	// A failing check takes the instance out of the answers.
	if err := cl.Client.Agent().FailTTL("web-ttl", "down"); err != nil {
		t.Fatal(err)
	}
	testagent.WaitFor(t, 10*time.Second, "the failed instance to leave DNS", func() bool {
		return query("web.service.consul.", dns.TypeA).Rcode == dns.RcodeNameError
	})
}
