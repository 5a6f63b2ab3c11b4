package dns

import (
	"errors"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Outcomes of a lookup. The first two are answers, not failures.
var (
	// errNameNotFound: NXDOMAIN, with the zone's SOA.
	errNameNotFound = errors.New("dns: name not found")
	// errNoData: the name exists but has no record of the asked type;
	// NOERROR with an empty answer and the zone's SOA (RFC 2308 NODATA).
	errNoData = errors.New("dns: no data")
	// errNoStore: StoreCatalog's getter returned nil; SERVFAIL.
	errNoStore = errors.New("dns: no catalog store")
)

// maxCNAMEDepth bounds how many in-zone CNAME targets one answer resolves
// (Consul's maxRecursionLevelDefault).
const maxCNAMEDepth = 3

// Tagged addresses that answer A and AAAA questions in place of the
// default address (Consul's lan_ipv4 and lan_ipv6).
const (
	taggedIPv4 = "lan_ipv4"
	taggedIPv6 = "lan_ipv6"
)

// request is one question being answered.
type request struct {
	q     dns.Question
	zone  string // the served zone q lies in
	edns  bool   // the client sent an EDNS record
	depth int    // how many more in-zone CNAME targets may be resolved
}

// lookup answers r from the catalog into m. It returns errNameNotFound or
// errNoData for those outcomes, another error if the catalog failed.
func (s *Server) lookup(m *dns.Msg, r request) error {
	n, err := parseName(r.q.Name, r.zone, r.q.Qtype)
	if err != nil {
		return err
	}
	if n.kind != kindAddr && n.dc != "" && !strings.EqualFold(n.dc, s.cfg.Datacenter) {
		// Consul forwards to the other datacenter; with no route, NXDOMAIN.
		return errNameNotFound
	}
	switch n.kind {
	case kindService:
		return s.lookupService(m, r, n)
	case kindNode:
		return s.lookupNode(m, r, n)
	case kindAddr:
		return s.lookupAddr(m, r, n)
	default:
		// The zone apex holds only the SOA and NS records. Consul answers
		// NXDOMAIN, which denies that the zone exists at all.
		return errNoData
	}
}

// pickAddr chooses among a default address and the tagged IPv4 and IPv6
// ones as Consul's TranslateAddress does in its own datacenter: an A
// question takes the IPv4 one, AAAA the IPv6 one, any other type prefers
// IPv6, then IPv4; without a fitting tagged address, the default.
func pickAddr(qtype uint16, def, v4, v6 string) string {
	switch {
	case v6 != "" && qtype != dns.TypeA:
		return v6
	case v4 != "" && qtype != dns.TypeAAAA:
		return v4
	}
	return def
}

// ipRecord returns an A or AAAA record for ip named name, or nil if qtype
// asks for the other family. Glue and SRV targets take either.
func ipRecord(qtype uint16, ip net.IP, name string, ttl time.Duration) dns.RR {
	hdr := dns.RR_Header{Name: name, Class: dns.ClassINET, Ttl: seconds(ttl)}
	either := qtype == dns.TypeANY || qtype == dns.TypeSRV || qtype == dns.TypeNS
	if v4 := ip.To4(); v4 != nil {
		if qtype != dns.TypeA && !either {
			return nil
		}
		hdr.Rrtype = dns.TypeA
		return &dns.A{Hdr: hdr, A: v4}
	}
	if qtype != dns.TypeAAAA && !either {
		return nil
	}
	hdr.Rrtype = dns.TypeAAAA
	return &dns.AAAA{Hdr: hdr, AAAA: ip}
}

// cname returns a CNAME record from name to target.
func cname(name, target string, ttl time.Duration) *dns.CNAME {
	return &dns.CNAME{
		Hdr:    dns.RR_Header{Name: name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: seconds(ttl)},
		Target: target,
	}
}

// seconds is a TTL field: d in whole seconds.
func seconds(d time.Duration) uint32 { return uint32(d / time.Second) }

// resolveTarget returns the address records (and CNAMEs) of host, the
// target of a CNAME or SRV answer: from the catalog if host lies in a
// served zone, else from the first recursor that answers; nil if neither
// can. Consul's resolveCNAME.
func (s *Server) resolveTarget(r request, host string) []dns.RR {
	var rrs []dns.RR
	if zone := s.zoneOf(host); zone != "" {
		if r.depth < 1 {
			s.log.Warn("dns: CNAME chain too deep, not resolved", "name", host)
			return nil
		}
		sub := new(dns.Msg)
		q := dns.Question{Name: host, Qtype: dns.TypeANY, Qclass: dns.ClassINET}
		if err := s.lookup(sub, request{q: q, zone: zone, edns: r.edns, depth: r.depth - 1}); err != nil {
			return nil
		}
		rrs = sub.Answer
	} else if len(s.recursors) > 0 {
		qtype := dns.TypeA
		if r.q.Qtype == dns.TypeAAAA {
			qtype = dns.TypeAAAA
		}
		rrs = s.resolve(host, qtype)
	}
	out := rrs[:0:0]
	for _, rr := range rrs {
		switch rr.Header().Rrtype {
		case dns.TypeA, dns.TypeAAAA, dns.TypeCNAME:
			out = append(out, rr)
		}
	}
	return out
}
