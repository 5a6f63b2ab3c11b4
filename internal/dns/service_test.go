package dns

import (
	"fmt"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/musterhq/muster/internal/state"
)

// webCatalog holds "web" in every health state, an IPv6 "db" and a "down"
// service whose only instance is critical.
func webCatalog(t *testing.T) *catalog {
	c := newCatalog(t)
	c.instance("n1", "10.0.0.1", state.Service{Service: "web", Tags: []string{"Primary"}, Port: 8080}, state.HealthPassing)
	c.instance("n2", "10.0.0.2", state.Service{Service: "web", Tags: []string{"secondary"}, Port: 8080}, state.HealthWarning)
	c.instance("n3", "10.0.0.3", state.Service{Service: "web", Port: 8080}, state.HealthCritical)
	c.register(&state.Registration{ // a critical node check downs every service on the node
		Node:    state.Node{Node: "n4", Address: "10.0.0.4"},
		Service: &state.Service{ID: "web-n4", Service: "web", Port: 8080},
		Checks:  []*state.HealthCheck{{CheckID: "serfHealth", Status: state.HealthCritical}},
	})
	c.instance("n5", "10.0.0.5", state.Service{Service: "web", Address: "10.9.9.5", Port: 9090}, "") // no checks: passing
	c.instance("n6", "10.0.0.6", state.Service{Service: "db", Address: "fd00::6", Port: 5432}, state.HealthPassing)
	c.instance("n7", "10.0.0.7", state.Service{Service: "down", Port: 1}, state.HealthCritical)
	return c
}

func TestServiceAddressLookups(t *testing.T) {
	c := webCatalog(t)
	servers := map[bool]*Server{
		false: c.serve(nil),
		true:  c.serve(func(cfg *Config) { cfg.OnlyPassing = true }),
	}
	healthy := []string{"A 10.0.0.1", "A 10.0.0.2", "A 10.9.9.5"}
	type testcase struct {
		onlyPassing bool
		name        string
		qtype       uint16
		rcode       int
		want        []string // nil: empty answer, with the SOA in the authority section
	}
	run := func(t *testing.T, tc testcase) {
		if tc.qtype == 0 {
			tc.qtype = dns.TypeA
		}
		resp := ask(t, servers[tc.onlyPassing].Addr(), "tcp", tc.name, tc.qtype, 0)
		if resp.Rcode != tc.rcode {
			t.Fatalf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
		}
		if got := show(resp.Answer); !slices.Equal(got, tc.want) {
			t.Errorf("answer %q, want %q", got, tc.want)
		}
		if !resp.Authoritative || resp.RecursionAvailable {
			t.Errorf("aa=%v ra=%v, want aa and no ra", resp.Authoritative, resp.RecursionAvailable)
		}
		if tc.want == nil && !hasSOA(resp, "consul.") {
			t.Errorf("authority %v, want the SOA of consul.", resp.Ns)
		}
	}
	tests := map[string]testcase{
		"passing, warning and own address":     {name: "web.service.consul.", want: healthy},
		"only passing":                         {onlyPassing: true, name: "web.service.consul.", want: []string{"A 10.0.0.1", "A 10.9.9.5"}},
		"any case":                             {name: "WEB.Service.CONSUL.", want: healthy},
		"datacenter":                           {name: "web.service.dc1.consul.", want: healthy},
		"datacenter any case":                  {name: "web.service.DC1.consul.", want: healthy},
		"datacenter with dc label":             {name: "web.service.dc1.dc.consul.", want: healthy},
		"other datacenter":                     {name: "web.service.dc2.consul.", rcode: dns.RcodeNameError},
		"alt domain":                           {name: "web.service.muster.", want: healthy},
		"tag":                                  {name: "primary.web.service.consul.", want: []string{"A 10.0.0.1"}},
		"tag any case":                         {name: "PRIMARY.web.service.consul.", want: []string{"A 10.0.0.1"}},
		"tag of a warning instance":            {name: "secondary.web.service.consul.", want: []string{"A 10.0.0.2"}},
		"tag of a warning instance, only pass": {onlyPassing: true, name: "secondary.web.service.consul.", rcode: dns.RcodeNameError},
		"unknown tag":                          {name: "canary.web.service.consul.", rcode: dns.RcodeNameError},
		"rfc 2782 tcp":                         {name: "_web._tcp.service.consul.", want: healthy},
		"rfc 2782 tag":                         {name: "_web._primary.service.consul.", want: []string{"A 10.0.0.1"}},
		"rfc 2782 udp is a tag":                {name: "_web._udp.service.consul.", rcode: dns.RcodeNameError},
		"ipv6 AAAA":                            {name: "db.service.consul.", qtype: dns.TypeAAAA, want: []string{"AAAA fd00::6"}},
		"ipv6 A is nodata":                     {name: "db.service.consul.", qtype: dns.TypeA},
		"ipv6 ANY":                             {name: "db.service.consul.", qtype: dns.TypeANY, want: []string{"AAAA fd00::6"}},
		"ipv4 AAAA is nodata":                  {name: "web.service.consul.", qtype: dns.TypeAAAA},
		"ipv4 ANY":                             {name: "web.service.consul.", qtype: dns.TypeANY, want: healthy},
		"MX is nodata":                         {name: "web.service.consul.", qtype: dns.TypeMX},
		"TXT is nodata":                        {name: "web.service.consul.", qtype: dns.TypeTXT},
		"only critical instances":              {name: "down.service.consul.", rcode: dns.RcodeNameError},
		"unknown service":                      {name: "nope.service.consul.", rcode: dns.RcodeNameError},
		"no service name":                      {name: "service.consul.", rcode: dns.RcodeNameError},
		"unknown kind":                         {name: "web.connect.consul.", rcode: dns.RcodeNameError},
		"no kind":                              {name: "web.consul.", rcode: dns.RcodeNameError},
		"zone apex":                            {name: "consul.", qtype: dns.TypeA},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func TestServiceSRV(t *testing.T) {
	c := newCatalog(t)
	c.register(&state.Registration{
		Node:    state.Node{Node: "n1", Address: "10.0.0.1", Meta: map[string]string{"env": "prod", "rfc1035-raw": "v=1"}},
		Service: &state.Service{ID: "web1", Service: "web", Tags: []string{"primary"}, Port: 8080, Weights: state.Weights{Passing: 10, Warning: 2}},
		Checks:  []*state.HealthCheck{{CheckID: "c1", Status: state.HealthPassing, ServiceID: "web1"}},
	})
	c.instance("n2", "10.0.0.2", state.Service{Service: "web", Port: 8081, Weights: state.Weights{Passing: 10, Warning: 2}}, state.HealthWarning)
	c.instance("n5", "10.0.0.5", state.Service{Service: "web", Address: "10.9.9.5", Port: 9090}, "")
	c.instance("n6", "10.0.0.6", state.Service{Service: "web", Address: "fd00::6", Port: 9091}, "")
	withMeta, noMeta := c.serve(nil), c.serve(func(cfg *Config) { cfg.NodeMetaTXT = false })

	all := []string{
		"SRV 1 1 9090 0a090905.addr.dc1.consul.",
		"SRV 1 1 9091 fd000000000000000000000000000006.addr.dc1.consul.",
		"SRV 1 10 8080 n1.node.dc1.consul.",
		"SRV 1 2 8081 n2.node.dc1.consul.",
	}
	allExtra := []string{
		"0a090905.addr.dc1.consul. A 10.9.9.5",
		"fd000000000000000000000000000006.addr.dc1.consul. AAAA fd00::6",
		"n1.node.dc1.consul. A 10.0.0.1",
		"n1.node.dc1.consul. TXT env=prod",
		"n1.node.dc1.consul. TXT v=1",
		"n2.node.dc1.consul. A 10.0.0.2",
	}
	type testcase struct {
		srv       *Server
		name      string
		want      []string
		wantExtra []string
	}
	tests := map[string]testcase{
		"rfc 2782":              {withMeta, "_web._tcp.service.consul.", all, allExtra},
		"plain name":            {withMeta, "web.service.consul.", all, allExtra},
		"without service label": {withMeta, "_web._tcp.consul.", all, allExtra},
		"with datacenter":       {withMeta, "_web._tcp.service.dc1.consul.", all, allExtra},
		"rfc 2782 tag": {withMeta, "_web._primary.service.consul.",
			[]string{"SRV 1 10 8080 n1.node.dc1.consul."},
			[]string{"n1.node.dc1.consul. A 10.0.0.1", "n1.node.dc1.consul. TXT env=prod", "n1.node.dc1.consul. TXT v=1"}},
		"no node meta": {noMeta, "_web._tcp.service.consul.", all, []string{
			"0a090905.addr.dc1.consul. A 10.9.9.5",
			"fd000000000000000000000000000006.addr.dc1.consul. AAAA fd00::6",
			"n1.node.dc1.consul. A 10.0.0.1",
			"n2.node.dc1.consul. A 10.0.0.2",
		}},
		"alt domain targets": {noMeta, "web.service.muster.",
			[]string{
				"SRV 1 1 9090 0a090905.addr.dc1.muster.",
				"SRV 1 1 9091 fd000000000000000000000000000006.addr.dc1.muster.",
				"SRV 1 10 8080 n1.node.dc1.muster.",
				"SRV 1 2 8081 n2.node.dc1.muster.",
			},
			[]string{
				"0a090905.addr.dc1.muster. A 10.9.9.5",
				"fd000000000000000000000000000006.addr.dc1.muster. AAAA fd00::6",
				"n1.node.dc1.muster. A 10.0.0.1",
				"n2.node.dc1.muster. A 10.0.0.2",
			}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resp := ask(t, tc.srv.Addr(), "tcp", tc.name, dns.TypeSRV, 0)
			if resp.Rcode != dns.RcodeSuccess {
				t.Fatalf("rcode %s", dns.RcodeToString[resp.Rcode])
			}
			if got := show(resp.Answer); !slices.Equal(got, tc.want) {
				t.Errorf("answer %q, want %q", got, tc.want)
			}
			if got := named(resp.Extra); !slices.Equal(got, tc.wantExtra) {
				t.Errorf("extra %q, want %q", got, tc.wantExtra)
			}
		})
	}

	// Every target answers with the address the additional section gave.
	for _, rr := range ask(t, withMeta.Addr(), "udp", "web.service.consul.", dns.TypeSRV, 4096).Extra {
		var want string
		switch r := rr.(type) {
		case *dns.A:
			want = "A " + r.A.String()
		case *dns.AAAA:
			want = "AAAA " + r.AAAA.String()
		default:
			continue
		}
		resp := ask(t, withMeta.Addr(), "udp", rr.Header().Name, rr.Header().Rrtype, 0)
		if got := show(resp.Answer); !slices.Equal(got, []string{want}) {
			t.Errorf("%s: answer %q, want %q", rr.Header().Name, got, want)
		}
	}
}

// An instance is listed once per distinct address (A) or node, address and
// port (SRV), as in Consul.
func TestServiceDuplicates(t *testing.T) {
	c := newCatalog(t)
	c.node("n1", "10.0.0.1", nil)
	for _, svc := range []state.Service{
		{ID: "a", Service: "web", Port: 80},
		{ID: "b", Service: "web", Port: 80},
		{ID: "c", Service: "web", Port: 81},
	} {
		c.register(&state.Registration{Node: state.Node{Node: "n1", Address: "10.0.0.1"}, Service: &svc})
	}
	s := c.serve(func(cfg *Config) { cfg.NodeMetaTXT = false })
	if got, want := show(ask(t, s.Addr(), "tcp", "web.service.consul.", dns.TypeA, 0).Answer), []string{"A 10.0.0.1"}; !slices.Equal(got, want) {
		t.Errorf("A answer %q, want %q", got, want)
	}
	resp := ask(t, s.Addr(), "tcp", "web.service.consul.", dns.TypeSRV, 0)
	if got, want := show(resp.Answer), []string{"SRV 1 1 80 n1.node.dc1.consul.", "SRV 1 1 81 n1.node.dc1.consul."}; !slices.Equal(got, want) {
		t.Errorf("SRV answer %q, want %q", got, want)
	}
	if got, want := named(resp.Extra), []string{"n1.node.dc1.consul. A 10.0.0.1"}; !slices.Equal(got, want) {
		t.Errorf("SRV extra %q, want %q", got, want)
	}
}

// A service addressed by a host name answers with a CNAME; a name in the
// zone is resolved too.
func TestServiceHostNameAddress(t *testing.T) {
	c := newCatalog(t)
	c.instance("n1", "10.0.0.1", state.Service{Service: "web", Port: 80}, "")
	c.instance("n2", "10.0.0.2", state.Service{Service: "ext", Address: "db.example.org", Port: 5432}, "")
	c.instance("n3", "10.0.0.3", state.Service{Service: "alias", Address: "n1.node.consul", Port: 80}, "")
	s := c.serve(func(cfg *Config) { cfg.NodeMetaTXT = false })
	type testcase struct {
		name      string
		qtype     uint16
		want      []string
		wantExtra []string
	}
	tests := map[string]testcase{
		"outside the zone":     {"ext.service.consul.", dns.TypeA, []string{"ext.service.consul. CNAME db.example.org."}, nil},
		"outside the zone SRV": {"ext.service.consul.", dns.TypeSRV, []string{"ext.service.consul. SRV 1 1 5432 db.example.org."}, nil},
		"in the zone": {"alias.service.consul.", dns.TypeA,
			[]string{"alias.service.consul. CNAME n1.node.consul.", "n1.node.consul. A 10.0.0.1"}, nil},
		"in the zone SRV": {"alias.service.consul.", dns.TypeSRV,
			[]string{"alias.service.consul. SRV 1 1 80 n1.node.consul."}, []string{"n1.node.consul. A 10.0.0.1"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resp := ask(t, s.Addr(), "tcp", tc.name, tc.qtype, 0)
			if got := named(resp.Answer); !slices.Equal(got, tc.want) {
				t.Errorf("answer %q, want %q", got, tc.want)
			}
			if got := named(resp.Extra); !slices.Equal(got, tc.wantExtra) {
				t.Errorf("extra %q, want %q", got, tc.wantExtra)
			}
		})
	}
}

// Answers come in a random order: over many queries the first answer is
// not always the same instance.
func TestServiceShuffle(t *testing.T) {
	c := newCatalog(t)
	for i := 1; i <= 5; i++ {
		c.instance(fmt.Sprintf("n%d", i), fmt.Sprintf("10.0.0.%d", i), state.Service{Service: "web", Port: 80}, "")
	}
	s := c.serve(nil)
	first := map[string]int{}
	for range 50 {
		resp := ask(t, s.Addr(), "tcp", "web.service.consul.", dns.TypeA, 0)
		if len(resp.Answer) != 5 {
			t.Fatalf("%d answers, want 5", len(resp.Answer))
		}
		first[show(resp.Answer[:1])[0]]++
	}
	// With a fair shuffle, 50 identical first answers happen with
	// probability 5^-49.
	if len(first) < 2 {
		t.Errorf("first answers %v: never shuffled", first)
	}
}

// The server reads the store through its getter on every question, so a
// restored snapshot's store is answered from at once.
func TestStoreSwap(t *testing.T) {
	before, after := newCatalog(t), newCatalog(t)
	before.instance("n1", "10.0.0.1", state.Service{Service: "web", Port: 80}, "")
	after.instance("n2", "10.0.0.2", state.Service{Service: "web", Port: 80}, "")
	after.instance("n3", "10.0.0.3", state.Service{Service: "api", Port: 80}, "")
	var stores swappable
	stores.p.Store(before.st)
	s := startServer(t, stores.get, nil)

	if got := show(ask(t, s.Addr(), "udp", "web.service.consul.", dns.TypeA, 0).Answer); !slices.Equal(got, []string{"A 10.0.0.1"}) {
		t.Fatalf("before the swap: %q", got)
	}
	stores.p.Store(after.st)
	if got := show(ask(t, s.Addr(), "udp", "web.service.consul.", dns.TypeA, 0).Answer); !slices.Equal(got, []string{"A 10.0.0.2"}) {
		t.Errorf("after the swap: %q", got)
	}
	if got := show(ask(t, s.Addr(), "udp", "api.service.consul.", dns.TypeA, 0).Answer); !slices.Equal(got, []string{"A 10.0.0.3"}) {
		t.Errorf("new service after the swap: %q", got)
	}
	if resp := ask(t, s.Addr(), "udp", "n1.node.consul.", dns.TypeA, 0); resp.Rcode != dns.RcodeNameError {
		t.Errorf("old node after the swap: rcode %s, want NXDOMAIN", dns.RcodeToString[resp.Rcode])
	}
}

// Tagged lan_ipv4 and lan_ipv6 addresses answer A and AAAA questions; SRV
// prefers IPv6 and names a tagged address by an addr target, as Consul.
func TestServiceTaggedAddresses(t *testing.T) {
	c := newCatalog(t)
	c.register(&state.Registration{
		Node: state.Node{Node: "dual", Address: "10.0.0.8",
			TaggedAddresses: map[string]string{"lan_ipv4": "10.0.0.8", "lan_ipv6": "fd00::8"}},
		Service: &state.Service{ID: "web", Service: "web", Port: 80},
	})
	c.register(&state.Registration{
		Node: state.Node{Node: "n2", Address: "10.0.0.2"},
		Service: &state.Service{ID: "api", Service: "api", Port: 81, Address: "api.internal",
			TaggedAddresses: map[string]state.ServiceAddress{"lan_ipv4": {Address: "10.1.0.2"}, "lan_ipv6": {Address: "fd01::2"}}},
	})
	c.instance("n3", "10.0.0.3", state.Service{Service: "self", Address: "SELF.service.consul", Port: 82}, "")
	s := c.serve(func(cfg *Config) { cfg.NodeMetaTXT = false })
	type testcase struct {
		name      string
		qtype     uint16
		want      []string
		wantExtra []string
	}
	tests := map[string]testcase{
		"node A":       {"web.service.consul.", dns.TypeA, []string{"A 10.0.0.8"}, nil},
		"node AAAA":    {"web.service.consul.", dns.TypeAAAA, []string{"AAAA fd00::8"}, nil},
		"node SRV":     {"web.service.consul.", dns.TypeSRV, []string{"SRV 1 1 80 fd000000000000000000000000000008.addr.dc1.consul."}, []string{"AAAA fd00::8"}},
		"service A":    {"api.service.consul.", dns.TypeA, []string{"A 10.1.0.2"}, nil},
		"service AAAA": {"api.service.consul.", dns.TypeAAAA, []string{"AAAA fd01::2"}, nil},
		"service SRV":  {"api.service.consul.", dns.TypeSRV, []string{"SRV 1 1 81 fd010000000000000000000000000002.addr.dc1.consul."}, []string{"AAAA fd01::2"}},
		// An address naming the question itself falls back to the node's.
		"self A": {"self.service.consul.", dns.TypeA, []string{"A 10.0.0.3"}, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resp := ask(t, s.Addr(), "tcp", tc.name, tc.qtype, 0)
			if got := show(resp.Answer); !slices.Equal(got, tc.want) {
				t.Errorf("answer %q, want %q", got, tc.want)
			}
			if got := show(resp.Extra); !slices.Equal(got, tc.wantExtra) {
				t.Errorf("extra %q, want %q", got, tc.wantExtra)
			}
		})
	}
}
