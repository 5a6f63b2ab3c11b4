package dns

import (
	"encoding/hex"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/musterhq/muster/internal/state"
)

// maxTargetRecords caps the records resolved for a host name target when
// the client sent no EDNS (Consul's maxRecurseRecords).
const maxTargetRecords = 5

// lookupService answers a service name: [tag.]name.service or
// _name._tag.service. With no healthy instance it is NXDOMAIN, as in
// Consul; with instances but no record of the asked type, NODATA.
func (s *Server) lookupService(m *dns.Msg, r request, n parsedName) error {
	service, tag := serviceName(n.parts)
	insts, err := s.healthyInstances(service, tag)
	if err != nil {
		return err
	}
	if len(insts) == 0 {
		return errNameNotFound
	}
	rand.Shuffle(len(insts), func(i, j int) { insts[i], insts[j] = insts[j], insts[i] })
	if r.q.Qtype == dns.TypeSRV {
		s.addSRVs(m, r, insts)
	} else {
		s.addAddresses(m, r, insts)
	}
	if len(m.Answer) == 0 {
		return errNoData
	}
	return nil
}

// healthyInstances returns the instances of service that carry tag (any
// case; "" for all) and that DNS may return: none with a critical check,
// and with OnlyPassing none with a warning either (Consul's
// CheckServiceNodes.Filter). Node checks count for every service on the node.
func (s *Server) healthyInstances(service, tag string) ([]state.ServiceInstance, error) {
	insts, err := s.cfg.Catalog.ServiceInstances(service)
	if err != nil {
		return nil, err
	}
	out := insts[:0:0]
	for _, inst := range insts {
		if (tag == "" || hasTag(inst.Service.Tags, tag)) && s.healthy(inst.HealthChecks()) {
			out = append(out, inst)
		}
	}
	return out, nil
}

func hasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if strings.EqualFold(t, tag) {
			return true
		}
	}
	return false
}

func (s *Server) healthy(checks []*state.HealthCheck) bool {
	for _, c := range checks {
		if c.Status == state.HealthCritical || (s.cfg.OnlyPassing && c.Status != state.HealthPassing) {
			return false
		}
	}
	return true
}

// addAddresses adds the address records of insts for an A, AAAA or ANY
// question, one per distinct address. A CNAME answer (a service or node
// addressed by host name) is given only when no instance has an address
// of the asked type, and then only the first, as in Consul.
func (s *Server) addAddresses(m *dns.Msg, r request, insts []state.ServiceInstance) {
	seen := map[string]bool{}
	var alias []dns.RR
	for _, inst := range insts {
		rrs, _ := s.instanceRecords(r, inst)
		if len(rrs) == 0 || seen[rrs[0].String()] {
			continue
		}
		seen[rrs[0].String()] = true
		if _, ok := rrs[0].(*dns.CNAME); ok {
			if alias == nil {
				alias = rrs
			}
			continue
		}
		m.Answer = append(m.Answer, rrs...)
	}
	if len(m.Answer) == 0 {
		m.Answer = alias
	}
}

// addSRVs adds one SRV record per distinct node, address and port of
// insts, and the records of their targets to the additional section.
func (s *Server) addSRVs(m *dns.Msg, r request, insts []state.ServiceInstance) {
	seen, seenExtra := map[string]bool{}, map[string]bool{}
	addExtra := func(rrs []dns.RR) {
		for _, rr := range rrs {
			if k := rr.String(); !seenExtra[k] {
				seenExtra[k] = true
				m.Extra = append(m.Extra, rr)
			}
		}
	}
	for _, inst := range insts {
		svc := inst.Service
		addr := pickAddr(dns.TypeANY, svc.Address, svc.TaggedAddresses[taggedIPv4].Address, svc.TaggedAddresses[taggedIPv6].Address)
		key := inst.Node.Node + "\x00" + addr + "\x00" + strconv.Itoa(svc.Port)
		if seen[key] {
			continue
		}
		seen[key] = true
		answer, extra := s.instanceRecords(r, inst)
		if len(answer) == 0 {
			continue
		}
		m.Answer = append(m.Answer, answer...)
		addExtra(extra)
		if s.cfg.NodeMetaTXT {
			addExtra(metaTXT(s.nodeTarget(inst.Node.Node, r.zone), inst.Node, s.cfg.ServiceTTL))
		}
	}
}

// instanceRecords returns the records of one instance, chosen as Consul's
// makeNodeServiceRecords does. For an SRV question: the SRV answer, whose
// target is <node>.node.<dc>.<zone> when the instance is reached at its
// node's own address and <hex>.addr.<dc>.<zone> when at an address of its
// own (or a tagged node address), and the target's records for the
// additional section. For other questions: the address record named as the
// question, or a CNAME to a host name address with what it resolves to.
func (s *Server) instanceRecords(r request, inst state.ServiceInstance) (answer, extra []dns.RR) {
	qtype := r.q.Qtype
	svc, node := inst.Service, inst.Node
	svcAddr := pickAddr(qtype, svc.Address, svc.TaggedAddresses[taggedIPv4].Address, svc.TaggedAddresses[taggedIPv6].Address)
	nodeAddr := pickAddr(qtype, node.Address, node.TaggedAddresses[taggedIPv4], node.TaggedAddresses[taggedIPv6])
	svcIP, nodeIP := net.ParseIP(svcAddr), net.ParseIP(nodeAddr)
	switch {
	case svcAddr == "" && nodeAddr == "":
		return nil, nil
	case svcAddr == "" && nodeIP != nil && nodeAddr == node.Address:
		return s.targetRecords(r, inst, nodeIP, s.nodeTarget(node.Node, r.zone))
	case svcAddr == "" && nodeIP != nil: // a tagged node address
		return s.targetRecords(r, inst, nodeIP, s.addrTarget(nodeIP, r.zone))
	case svcAddr == "":
		return s.hostRecords(r, inst, nodeAddr)
	case svcIP != nil:
		return s.targetRecords(r, inst, svcIP, s.addrTarget(svcIP, r.zone))
	case strings.EqualFold(dns.Fqdn(svcAddr), r.q.Name) && nodeIP != nil:
		// A service address naming the question itself would loop.
		return s.targetRecords(r, inst, nodeIP, s.nodeTarget(node.Node, r.zone))
	default:
		return s.hostRecords(r, inst, svcAddr)
	}
}

// targetRecords returns the records of an instance reached at ip: an
// address record, or for SRV an SRV record to target and target's address.
func (s *Server) targetRecords(r request, inst state.ServiceInstance, ip net.IP, target string) (answer, extra []dns.RR) {
	rr := ipRecord(r.q.Qtype, ip, r.q.Name, s.cfg.ServiceTTL)
	if rr == nil {
		return nil, nil
	}
	if r.q.Qtype != dns.TypeSRV {
		return []dns.RR{rr}, nil
	}
	rr.Header().Name = target
	return []dns.RR{s.srv(r, inst, target)}, []dns.RR{rr}
}

// hostRecords returns the records of an instance reached at a host name:
// a CNAME to it, or for SRV an SRV record to it, with what it resolves to.
func (s *Server) hostRecords(r request, inst state.ServiceInstance, host string) (answer, extra []dns.RR) {
	target := dns.Fqdn(host)
	var resolved []dns.RR
	for _, rr := range s.resolveTarget(r, target) {
		rr.Header().Ttl = seconds(s.cfg.ServiceTTL)
		resolved = append(resolved, rr)
		if len(resolved) == maxTargetRecords && !r.edns {
			break
		}
	}
	if r.q.Qtype == dns.TypeSRV {
		return []dns.RR{s.srv(r, inst, target)}, resolved
	}
	return append([]dns.RR{cname(r.q.Name, target, s.cfg.ServiceTTL)}, resolved...), nil
}

// srv returns the SRV record of inst: priority 1, and the weight of its
// health (Weights.Warning if a check warns, else Weights.Passing).
func (s *Server) srv(r request, inst state.ServiceInstance, target string) *dns.SRV {
	w := inst.Service.Weights
	if w == (state.Weights{}) {
		w = state.Weights{Passing: 1, Warning: 1} // Consul's default
	}
	weight := w.Passing
	for _, c := range inst.Checks {
		if c.Status == state.HealthWarning {
			weight = w.Warning
		}
	}
	return &dns.SRV{
		Hdr:      dns.RR_Header{Name: r.q.Name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: seconds(s.cfg.ServiceTTL)},
		Priority: 1,
		Weight:   uint16(min(max(weight, 0), math.MaxUint16)),
		Port:     uint16(min(max(inst.Service.Port, 0), math.MaxUint16)),
		Target:   target,
	}
}

// nodeTarget is the name of node's records: <node>.node.<dc>.<zone>.
func (s *Server) nodeTarget(node, zone string) string {
	return node + ".node." + s.cfg.Datacenter + "." + zone
}

// addrTarget is the name that answers with ip: <hex>.addr.<dc>.<zone>,
// with 8 hex digits for IPv4 and 32 for IPv6.
func (s *Server) addrTarget(ip net.IP, zone string) string {
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return hex.EncodeToString(ip) + ".addr." + s.cfg.Datacenter + "." + zone
}
