package dns

import (
	"math"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// maxUDPSize caps a UDP response whatever EDNS size the client announces:
// the largest UDP payload less IP headers (Consul's maxUDPDatagramSize).
const maxUDPSize = math.MaxUint16 - 68

// fit sets the response's EDNS record and trims it to what the client can
// take: over UDP 512 bytes (at most UDPAnswerLimit answers), or the EDNS
// buffer size; over TCP 64 KiB. TC is set if answers were left out.
func (s *Server) fit(m, req *dns.Msg, tcp bool) {
	size, limit := dns.MaxMsgSize, 0
	opt := req.IsEdns0()
	if !tcp {
		size = dns.MinMsgSize
		if opt != nil && int(opt.UDPSize()) > size {
			size = min(int(opt.UDPSize()), maxUDPSize)
		}
		if size == dns.MinMsgSize {
			limit = s.cfg.UDPAnswerLimit
		}
	}
	var reply *dns.OPT
	if opt != nil {
		// Echo the client's buffer size, as Consul does.
		reply = &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		reply.SetUDPSize(opt.UDPSize())
	}
	budget := size
	if reply != nil {
		budget -= dns.Len(reply)
	}
	if trim(m, budget, limit) {
		m.Truncated = true
	}
	if reply != nil {
		m.Extra = append(m.Extra, reply)
	}
	if m.Len() > size {
		// One record too large for the client, or a large additional
		// section on a single answer: let miekg/dns cut what it must.
		m.Truncate(size)
	}
}

// trim leaves m's answers, authority and additional sections within size
// bytes, as Consul's trimUDPResponse does: the answers are first cut to
// limit (0: no limit), then, if m is still too large, the authority section
// goes and the answers are cut to as many as fit, never fewer than one. The
// additional section keeps only the records for the targets of the SRV
// answers kept. trim reports whether answers were left out.
func trim(m *dns.Msg, size, limit int) bool {
	all, extra := m.Answer, m.Extra
	keep := func(n int) {
		m.Answer = all[:n]
		if len(extra) > 0 {
			m.Extra = extraFor(m.Answer, extra)
		}
	}
	if limit > 0 && len(all) > limit {
		keep(limit)
	}
	if len(m.Answer) > 1 && m.Len() > size {
		m.Ns = nil
		if m.Len() > size {
			// The first count that does not fit, less one.
			n := sort.Search(len(m.Answer), func(i int) bool { keep(i + 1); return m.Len() > size })
			keep(max(n, 1))
		}
	}
	return len(m.Answer) < len(all)
}

// extraFor returns the records of extra that answers refer to: those named
// by an SRV target, following CNAMEs within extra.
func extraFor(answers, extra []dns.RR) []dns.RR {
	wanted := map[string]bool{}
	for _, rr := range answers {
		if srv, ok := rr.(*dns.SRV); ok {
			wanted[strings.ToLower(srv.Target)] = true
		}
	}
	for grew := true; grew; {
		grew = false
		for _, rr := range extra {
			if c, ok := rr.(*dns.CNAME); ok && wanted[strings.ToLower(c.Hdr.Name)] && !wanted[strings.ToLower(c.Target)] {
				wanted[strings.ToLower(c.Target)] = true
				grew = true
			}
		}
	}
	out := make([]dns.RR, 0, len(extra))
	for _, rr := range extra {
		if wanted[strings.ToLower(rr.Header().Name)] {
			out = append(out, rr)
		}
	}
	return out
}
