package dns

import (
	"encoding/hex"
	"math/rand/v2"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/musterhq/muster/internal/state"
)

// serverService is the service every server registers, whose nodes are the
// zone's name servers.
const serverService = "consul"

// maxNameservers is how many NS records an answer lists (Consul's).
const maxNameservers = 3

// lookupNode answers <node>.node: the node's address for A, AAAA and ANY,
// its metadata as TXT records for TXT and ANY.
func (s *Server) lookupNode(m *dns.Msg, r request, n parsedName) error {
	node, err := s.cfg.Catalog.Node(strings.Join(n.parts, ".")) // node names may hold dots
	if err != nil {
		return err
	}
	if node == nil {
		return errNameNotFound
	}
	qtype := r.q.Qtype
	switch qtype {
	case dns.TypeA, dns.TypeAAAA, dns.TypeANY:
		m.Answer = append(m.Answer, s.nodeRecords(r, node, r.q.Name)...)
	case dns.TypeTXT:
	default:
		return errNoData
	}
	switch meta := metaTXT(r.q.Name, node, s.cfg.NodeTTL); {
	case qtype == dns.TypeTXT || qtype == dns.TypeANY:
		m.Answer = append(m.Answer, meta...)
	case s.cfg.NodeMetaTXT && len(m.Answer) > 0:
		m.Extra = append(m.Extra, meta...)
	}
	if len(m.Answer) == 0 {
		return errNoData
	}
	return nil
}

// nodeRecords returns node's address record for r's question type, named
// name, or if the node's address is a host name a CNAME to it with what it
// resolves to (Consul's makeRecordFromNode).
func (s *Server) nodeRecords(r request, node *state.Node, name string) []dns.RR {
	addr := pickAddr(r.q.Qtype, node.Address, node.TaggedAddresses[taggedIPv4], node.TaggedAddresses[taggedIPv6])
	if addr == "" {
		return nil
	}
	if ip := net.ParseIP(addr); ip != nil {
		if rr := ipRecord(r.q.Qtype, ip, name, s.cfg.NodeTTL); rr != nil {
			return []dns.RR{rr}
		}
		return nil
	}
	target := dns.Fqdn(addr)
	return append([]dns.RR{cname(name, target, s.cfg.NodeTTL)}, s.resolveTarget(r, target)...)
}

// lookupAddr answers <hex>.addr, the names of SRV targets that are
// addresses: 8 hex digits answer an A question, 32 an AAAA one. Whatever
// follows "addr" is ignored, as in Consul.
func (s *Server) lookupAddr(m *dns.Msg, r request, n parsedName) error {
	if len(n.parts) != 1 || (len(n.parts[0]) != 2*net.IPv4len && len(n.parts[0]) != 2*net.IPv6len) {
		return errNameNotFound
	}
	b, err := hex.DecodeString(n.parts[0])
	if err != nil {
		return errNameNotFound
	}
	qtype := r.q.Qtype
	if qtype != dns.TypeA && qtype != dns.TypeAAAA && qtype != dns.TypeANY {
		return errNoData
	}
	rr := ipRecord(qtype, net.IP(b), r.q.Name, s.cfg.NodeTTL)
	if rr == nil {
		return errNoData
	}
	m.Answer = append(m.Answer, rr)
	return nil
}

// invalidNodeName matches node names that cannot be a DNS label; such
// nodes are not listed as name servers (Consul's InvalidNameRe).
var invalidNodeName = regexp.MustCompile(`[^A-Za-z0-9\-]+`)

// nameservers returns the zone's NS records, up to three healthy nodes of
// the servers' "consul" service picked at random, and their addresses for
// the additional section (Consul's getNameserversAndNodeRecord).
func (s *Server) nameservers(zone string) (ns, glue []dns.RR) {
	insts, err := s.healthyInstances(serverService, "")
	if err != nil {
		s.log.Warn("dns: list servers failed", "err", err)
		return nil, nil
	}
	rand.Shuffle(len(insts), func(i, j int) { insts[i], insts[j] = insts[j], insts[i] })
	seen := map[string]bool{}
	for _, inst := range insts {
		node := inst.Node
		if seen[node.Node] || invalidNodeName.MatchString(node.Node) {
			continue
		}
		seen[node.Node] = true
		host := strings.ToLower(s.nodeTarget(node.Node, zone))
		ns = append(ns, &dns.NS{
			Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: seconds(s.cfg.NodeTTL)},
			Ns:  host,
		})
		q := dns.Question{Name: host, Qtype: dns.TypeANY, Qclass: dns.ClassINET}
		glue = append(glue, s.nodeRecords(request{q: q, zone: zone, depth: maxCNAMEDepth}, node, host)...)
		if len(ns) == maxNameservers {
			break
		}
	}
	return ns, glue
}

// metaTXT returns node's metadata as TXT records named name, in key order:
// "key=value" encoded as RFC 1464 says, or the bare value for keys starting
// with "rfc1035-" (Consul's makeTXTRecordFromNodeMeta).
func metaTXT(name string, node *state.Node, ttl time.Duration) []dns.RR {
	keys := make([]string, 0, len(node.Meta))
	for k := range node.Meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]dns.RR, 0, len(keys))
	for _, k := range keys {
		txt := node.Meta[k]
		if !strings.HasPrefix(strings.ToLower(k), "rfc1035-") {
			txt = rfc1464(k, txt)
		}
		out = append(out, &dns.TXT{
			Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: seconds(ttl)},
			Txt: []string{txt},
		})
	}
	return out
}

// rfc1464 encodes key=value: a backquote quotes "=", "`" and the key's
// leading and trailing spaces.
func rfc1464(key, value string) string {
	key = strings.ReplaceAll(key, "`", "``")
	key = strings.ReplaceAll(key, "=", "`=")
	trimmed := strings.TrimLeft(key, " ")
	lead := len(key) - len(trimmed)
	inner := strings.TrimRight(trimmed, " ")
	trail := len(trimmed) - len(inner)
	key = strings.Repeat("` ", lead) + inner + strings.Repeat("` ", trail)
	return key + "=" + strings.ReplaceAll(value, "`", "``")
}
