package dns

import (
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/musterhq/muster/internal/state"
)

func TestNodeAndAddrLookups(t *testing.T) {
	c := newCatalog(t)
	c.node("n1", "10.0.0.1", map[string]string{"env": "prod", "a=b": "x`y"})
	c.node("n6", "fd00::6", nil)
	c.node("db.east", "10.0.0.7", nil) // a dotted node name
	c.register(&state.Registration{Node: state.Node{Node: "dual", Address: "10.0.0.8",
		TaggedAddresses: map[string]string{"lan_ipv4": "10.0.0.8", "lan_ipv6": "fd00::8"}}})
	s := c.serve(nil)
	noMeta := c.serve(func(cfg *Config) { cfg.NodeMetaTXT = false })

	type testcase struct {
		srv       *Server
		name      string
		qtype     uint16
		rcode     int
		want      []string // nil: empty answer, with the SOA
		wantExtra []string
	}
	tests := map[string]testcase{
		"node A":                     {srv: s, name: "n1.node.consul.", qtype: dns.TypeA, want: []string{"A 10.0.0.1"}, wantExtra: []string{"TXT a`=b=x``y", "TXT env=prod"}},
		"node A without meta":        {srv: noMeta, name: "n1.node.consul.", qtype: dns.TypeA, want: []string{"A 10.0.0.1"}},
		"node any case":              {srv: noMeta, name: "N1.Node.DC1.Consul.", qtype: dns.TypeA, want: []string{"A 10.0.0.1"}},
		"node alt domain":            {srv: noMeta, name: "n1.node.dc1.muster.", qtype: dns.TypeA, want: []string{"A 10.0.0.1"}},
		"node TXT":                   {srv: noMeta, name: "n1.node.consul.", qtype: dns.TypeTXT, want: []string{"TXT a`=b=x``y", "TXT env=prod"}},
		"node ANY":                   {srv: noMeta, name: "n1.node.consul.", qtype: dns.TypeANY, want: []string{"A 10.0.0.1", "TXT a`=b=x``y", "TXT env=prod"}},
		"node AAAA of ipv4":          {srv: noMeta, name: "n1.node.consul.", qtype: dns.TypeAAAA},
		"node MX":                    {srv: noMeta, name: "n1.node.consul.", qtype: dns.TypeMX},
		"node ipv6":                  {srv: noMeta, name: "n6.node.consul.", qtype: dns.TypeAAAA, want: []string{"AAAA fd00::6"}},
		"node dotted name":           {srv: noMeta, name: "db.east.node.consul.", qtype: dns.TypeA, want: []string{"A 10.0.0.7"}},
		"node tagged ipv4":           {srv: noMeta, name: "dual.node.consul.", qtype: dns.TypeA, want: []string{"A 10.0.0.8"}},
		"node tagged ipv6":           {srv: noMeta, name: "dual.node.consul.", qtype: dns.TypeAAAA, want: []string{"AAAA fd00::8"}},
		"node unknown":               {srv: noMeta, name: "nope.node.consul.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		"node other datacenter":      {srv: noMeta, name: "n1.node.dc2.consul.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		"addr ipv4":                  {srv: noMeta, name: "0a000001.addr.dc1.consul.", qtype: dns.TypeA, want: []string{"A 10.0.0.1"}},
		"addr ipv4 without dc":       {srv: noMeta, name: "0A000001.addr.consul.", qtype: dns.TypeA, want: []string{"A 10.0.0.1"}},
		"addr ipv6":                  {srv: noMeta, name: "fd000000000000000000000000000006.addr.dc1.consul.", qtype: dns.TypeAAAA, want: []string{"AAAA fd00::6"}},
		"addr ipv4 asked AAAA":       {srv: noMeta, name: "0a000001.addr.dc1.consul.", qtype: dns.TypeAAAA},
		"addr not hex":               {srv: noMeta, name: "0a00000z.addr.dc1.consul.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		"addr wrong length":          {srv: noMeta, name: "0a0000.addr.dc1.consul.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		"addr more than one label":   {srv: noMeta, name: "x.0a000001.addr.dc1.consul.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		"unknown name under node":    {srv: noMeta, name: "node.consul.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		"unknown name under the dc":  {srv: noMeta, name: "dc1.consul.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		"prepared queries not known": {srv: noMeta, name: "q.query.consul.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resp := ask(t, tc.srv.Addr(), "udp", tc.name, tc.qtype, 0)
			if resp.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
			}
			if got := show(resp.Answer); !slices.Equal(got, tc.want) {
				t.Errorf("answer %q, want %q", got, tc.want)
			}
			if got := show(resp.Extra); !slices.Equal(got, tc.wantExtra) {
				t.Errorf("extra %q, want %q", got, tc.wantExtra)
			}
			if tc.want == nil && !hasSOA(resp, "consul.") && !hasSOA(resp, "muster.") {
				t.Errorf("authority %v, want the zone's SOA", resp.Ns)
			}
		})
	}
}

// NXDOMAIN carries Consul's SOA: ns.<zone>, hostmaster.<zone>, serial the
// current Unix time, refresh 3600, retry 600, expire 86400, minimum TTL 0.
func TestNameErrorSOA(t *testing.T) {
	s := newCatalog(t).serve(nil)
	for _, zone := range []string{"consul.", "muster."} {
		before := uint32(time.Now().Unix())
		resp := ask(t, s.Addr(), "udp", "nope.service."+zone, dns.TypeA, 0)
		after := uint32(time.Now().Unix())
		if resp.Rcode != dns.RcodeNameError || len(resp.Answer) != 0 || !resp.Authoritative {
			t.Fatalf("%s: rcode %s, %d answers, aa=%v; want authoritative NXDOMAIN", zone, dns.RcodeToString[resp.Rcode], len(resp.Answer), resp.Authoritative)
		}
		if len(resp.Ns) != 1 {
			t.Fatalf("%s: authority %v, want one SOA", zone, resp.Ns)
		}
		soa, ok := resp.Ns[0].(*dns.SOA)
		if !ok {
			t.Fatalf("%s: authority %v, want an SOA", zone, resp.Ns[0])
		}
		want := dns.SOA{Ns: "ns." + zone, Mbox: "hostmaster." + zone, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 0}
		if soa.Hdr.Name != zone || soa.Hdr.Ttl != 0 || soa.Ns != want.Ns || soa.Mbox != want.Mbox ||
			soa.Refresh != want.Refresh || soa.Retry != want.Retry || soa.Expire != want.Expire || soa.Minttl != want.Minttl {
			t.Errorf("%s: SOA %v, want %v", zone, soa, &want)
		}
		if soa.Serial < before || soa.Serial > after {
			t.Errorf("%s: serial %d, want the time of the query (%d..%d)", zone, soa.Serial, before, after)
		}
	}
}

// SOA and NS questions list the nodes of the servers' "consul" service as
// name servers, with their addresses as glue.
func TestSOAAndNS(t *testing.T) {
	c := newCatalog(t)
	c.instance("server1", "10.0.0.1", state.Service{ID: "consul", Service: "consul", Port: 8300}, state.HealthPassing)
	c.instance("server2", "10.0.0.2", state.Service{ID: "consul", Service: "consul", Port: 8300}, state.HealthCritical)
	s := c.serve(nil)

	resp := ask(t, s.Addr(), "udp", "consul.", dns.TypeSOA, 0)
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 || resp.Answer[0].Header().Rrtype != dns.TypeSOA {
		t.Fatalf("SOA: rcode %s, answer %v", dns.RcodeToString[resp.Rcode], resp.Answer)
	}
	if got, want := named(resp.Ns), []string{"consul. NS server1.node.dc1.consul."}; !slices.Equal(got, want) {
		t.Errorf("SOA authority %q, want %q", got, want)
	}
	if got, want := named(resp.Extra), []string{"server1.node.dc1.consul. A 10.0.0.1"}; !slices.Equal(got, want) {
		t.Errorf("SOA extra %q, want %q", got, want)
	}

	resp = ask(t, s.Addr(), "tcp", "muster.", dns.TypeNS, 0)
	if got, want := named(resp.Answer), []string{"muster. NS server1.node.dc1.muster."}; !slices.Equal(got, want) {
		t.Errorf("NS answer %q, want %q", got, want)
	}
	if got, want := named(resp.Extra), []string{"server1.node.dc1.muster. A 10.0.0.1"}; !slices.Equal(got, want) {
		t.Errorf("NS extra %q, want %q", got, want)
	}
}
