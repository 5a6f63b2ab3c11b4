package dns

import (
	"github.com/miekg/dns"
)

// recurse forwards req, a question outside the served zones, to the
// recursors in order over the client's protocol, and returns the first
// answer that is NOERROR or NXDOMAIN. If none answers so, SERVFAIL with
// recursion available (Consul's handleRecurse).
func (s *Server) recurse(req *dns.Msg, tcp bool) *dns.Msg {
	c := &dns.Client{Net: "udp", Timeout: s.cfg.RecursorTimeout}
	if tcp {
		c.Net = "tcp"
	}
	for _, addr := range s.recursors {
		resp, _, err := c.Exchange(req, addr)
		switch {
		case err != nil:
			s.log.Warn("dns: recursor failed", "recursor", addr, "name", req.Question[0].Name, "err", err)
		case resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError:
			s.log.Debug("dns: recursor answered an error", "recursor", addr, "name", req.Question[0].Name, "rcode", dns.RcodeToString[resp.Rcode])
		default:
			// Compress: the recursor's message may not have been, and
			// repacking it uncompressed could outgrow the client's buffer.
			resp.Compress = true
			return resp
		}
	}
	s.log.Warn("dns: all recursors failed", "name", req.Question[0].Name)
	m := serverFailure(req, true)
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), false)
	}
	return m
}

// resolve asks the recursors for host's records of type qtype over UDP and
// returns the first answer section received; nil if none answers.
func (s *Server) resolve(host string, qtype uint16) []dns.RR {
	q := new(dns.Msg)
	q.SetQuestion(host, qtype)
	c := &dns.Client{Net: "udp", Timeout: s.cfg.RecursorTimeout}
	for _, addr := range s.recursors {
		resp, _, err := c.Exchange(q, addr)
		if err == nil {
			return resp.Answer
		}
		s.log.Warn("dns: recursor failed", "recursor", addr, "name", host, "err", err)
	}
	return nil
}
