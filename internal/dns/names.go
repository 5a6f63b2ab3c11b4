package dns

import (
	"strings"

	"github.com/miekg/dns"
)

// Query kinds: the label that says what a name looks up.
const (
	kindService = "service"
	kindNode    = "node"
	kindAddr    = "addr"
	kindApex    = "" // the zone itself
)

// unsupportedKinds are Consul's other kinds (Connect, ingress gateways,
// virtual IPs, prepared queries). Names of those kinds are NXDOMAIN here.
var unsupportedKinds = map[string]bool{"connect": true, "ingress": true, "virtual": true, "query": true}

// parsedName is a question's name within a zone, parsed as Consul parses it:
// <parts>.<kind>[.<datacenter>[.dc]].<zone>, lower case.
type parsedName struct {
	kind  string
	parts []string // the labels left of kind
	dc    string   // the datacenter named; "" if none
}

// parseName parses qname, which lies in zone. As in Consul, the kind is the
// rightmost kind label, and for SRV questions a label starting with "_"
// stands for "service" (_web._tcp.consul is _web._tcp.service.consul).
// Names of no known shape are errNameNotFound.
func parseName(qname, zone string, qtype uint16) (parsedName, error) {
	rel := strings.TrimSuffix(dns.CanonicalName(qname), zone)
	labels := dns.SplitDomainName(rel)
	if len(labels) == 0 {
		return parsedName{kind: kindApex}, nil
	}
	for i := len(labels) - 1; i >= 0; i-- {
		l := labels[i]
		switch {
		case l == kindService || l == kindNode || l == kindAddr:
			return withLocality(parsedName{kind: l, parts: labels[:i]}, labels[i+1:])
		case unsupportedKinds[l]:
			return parsedName{}, errNameNotFound
		case qtype == dns.TypeSRV && strings.HasPrefix(l, "_"):
			return withLocality(parsedName{kind: kindService, parts: labels[:i+1]}, labels[i+1:])
		}
	}
	return parsedName{}, errNameNotFound
}

// withLocality sets n.dc from the labels right of the kind: none,
// "<dc>", or "<dc>.dc" (Consul CE's forms; peers are not supported).
func withLocality(n parsedName, suffix []string) (parsedName, error) {
	if len(n.parts) == 0 {
		return parsedName{}, errNameNotFound
	}
	switch {
	case len(suffix) == 0:
	case len(suffix) == 1:
		n.dc = suffix[0]
	case len(suffix) == 2 && suffix[1] == "dc":
		n.dc = suffix[0]
	default:
		if n.kind != kindAddr { // Consul ignores what follows addr
			return parsedName{}, errNameNotFound
		}
	}
	return n, nil
}

// serviceName splits a service name's parts into service and tag, as
// Consul does: _<service>._<tag> (RFC 2782; the tag "_tcp" means no tag),
// or [<tag>.]<service> where the tag may itself contain dots.
func serviceName(parts []string) (service, tag string) {
	n := len(parts)
	if n == 2 && strings.HasPrefix(parts[0], "_") && strings.HasPrefix(parts[1], "_") {
		service, tag = parts[0][1:], parts[1][1:]
		if tag == "tcp" {
			tag = ""
		}
		return service, tag
	}
	return parts[n-1], strings.Join(parts[:n-1], ".")
}
