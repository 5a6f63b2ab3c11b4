// Package dns serves the catalog over DNS, as Consul's DNS interface does
// (agent/dns.go): service, node and addr lookups in the "consul." zone,
// with health filtering, RFC 2782 SRV names, shuffled answers, truncation
// of UDP answers, and forwarding of other names to recursors.
//
// The files follow a question's path: server.go (listeners, zone routing),
// names.go (parsing a name), lookup.go (dispatch and shared records),
// service.go and node.go (answers), truncate.go (fitting a response to the
// client) and recurse.go (forwarding to recursors).
package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Errors returned by New and Start.
var (
	// ErrInvalidConfig is wrapped by the *ValidationError New returns.
	ErrInvalidConfig = errors.New("dns: invalid config")
	// ErrStarted: Start was called on a running server.
	ErrStarted = errors.New("dns: server already started")
	// ErrClosed: Start was called after Shutdown.
	ErrClosed = errors.New("dns: server shut down")
)

// SOA timers, Consul's dns_config.soa defaults.
const (
	soaRefresh = 3600
	soaRetry   = 600
	soaExpire  = 86400
	soaMinTTL  = 0
)

// shutdownTimeout bounds how long Shutdown waits for each listener's loop.
const shutdownTimeout = 5 * time.Second

// Server answers DNS questions from the catalog, over UDP and TCP on one
// address. Its methods may be called from any goroutine.
type Server struct {
	cfg       Config // as given to New; immutable
	domain    string // cfg.Domain, lower case with the final dot
	altDomain string // cfg.AltDomain likewise, or ""
	recursors []string
	log       *slog.Logger

	mu     sync.Mutex
	udp    *dns.Server // guarded by mu; nil until Start
	tcp    *dns.Server // guarded by mu; nil until Start
	addr   string      // guarded by mu; the bound address
	closed bool        // guarded by mu
}

// New validates cfg and returns a server that is not listening yet.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		domain: dns.CanonicalName(cfg.Domain),
		log:    cfg.Logger,
	}
	if cfg.AltDomain != "" {
		s.altDomain = dns.CanonicalName(cfg.AltDomain)
	}
	for _, r := range cfg.Recursors {
		a, _ := recursorAddr(r) // checked by Validate
		s.recursors = append(s.recursors, a)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Start listens on the configured address, UDP and TCP, and serves in the
// background. It returns once both listeners accept questions. A server
// starts at most once.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case s.udp != nil:
		return ErrStarted
	}
	pc, ln, err := listen(s.cfg.Addr)
	if err != nil {
		return err
	}
	udpUp, tcpUp := make(chan struct{}), make(chan struct{})
	s.udp = &dns.Server{Net: "udp", PacketConn: pc, Handler: s, UDPSize: dns.MaxMsgSize, NotifyStartedFunc: func() { close(udpUp) }}
	s.tcp = &dns.Server{Net: "tcp", Listener: ln, Handler: s, NotifyStartedFunc: func() { close(tcpUp) }}
	s.addr = pc.LocalAddr().String()
	failed := make(chan error, 2)
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		go func() {
			if err := srv.ActivateAndServe(); err != nil {
				s.log.Error("dns: serve failed", "net", srv.Net, "err", err)
				failed <- err
			}
		}()
	}
	for _, up := range []chan struct{}{udpUp, tcpUp} {
		select {
		case <-up:
		case err := <-failed:
			s.shutdownLocked() // errors for the loop that never started
			pc.Close()
			ln.Close()
			return fmt.Errorf("dns: serve: %w", err)
		}
	}
	s.log.Info("dns: listening", "addr", s.addr, "domain", s.domain)
	return nil
}

// listen binds UDP and TCP on the same address. For port 0 it takes the
// port UDP got and retries a few times if TCP finds it taken.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dns: listen: %w", err)
	}
	for attempt := 1; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns: listen udp: %w", err)
		}
		tcpAddr := net.JoinHostPort(host, strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port))
		ln, err := net.Listen("tcp", tcpAddr)
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if port != "0" || attempt == 10 {
			return nil, nil, fmt.Errorf("dns: listen tcp: %w", err)
		}
	}
}

// Addr returns the address the server is bound to ("" before Start): the
// configured one, with the port chosen for port 0.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Shutdown closes both listeners and waits (a few seconds at most) for
// the questions in flight. It may be called more than once, and before
// Start; after it the server cannot start again.
func (s *Server) Shutdown() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdownLocked()
}

// shutdownLocked is Shutdown; s.mu must be held.
func (s *Server) shutdownLocked() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.udp == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var errs []error
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		if err := srv.ShutdownContext(ctx); err != nil {
			errs = append(errs, fmt.Errorf("dns: shutdown %s: %w", srv.Net, err))
		}
	}
	return errors.Join(errs...)
}

// ServeDNS answers one question; it implements dns.Handler and is called
// by miekg/dns on a goroutine per message, after it has answered malformed
// messages itself.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	_, tcp := w.RemoteAddr().(*net.TCPAddr)
	resp := s.answer(req, tcp)
	if err := w.WriteMsg(resp); err != nil {
		s.log.Warn("dns: write response failed", "client", w.RemoteAddr().String(), "err", err)
	}
}

// answer builds the response to req, received over TCP if tcp is set.
func (s *Server) answer(req *dns.Msg, tcp bool) *dns.Msg {
	if len(req.Question) == 0 {
		return refused(req)
	}
	if req.Opcode != dns.OpcodeQuery { // miekg/dns lets NOTIFY through
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeNotImplemented)
		return m
	}
	q := req.Question[0]
	zone := s.zoneOf(q.Name)
	if zone == "" {
		if len(s.recursors) == 0 {
			// Consul's answer: miekg/dns's ServeMux refuses names no
			// handler matches, and Consul registers "." only for recursors.
			return refused(req)
		}
		return s.recurse(req, tcp)
	}

	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = len(s.recursors) > 0
	m.Compress = true
	switch q.Qtype {
	case dns.TypeSOA:
		// As Consul, for any name in the zone.
		m.Answer = []dns.RR{s.soa(zone)}
		m.Ns, m.Extra = s.nameservers(zone)
	case dns.TypeNS:
		m.Answer, m.Extra = s.nameservers(zone)
	case dns.TypeAXFR, dns.TypeIXFR:
		m.Rcode = dns.RcodeNotImplemented
	default:
		err := s.lookup(m, request{q: q, zone: zone, edns: req.IsEdns0() != nil, depth: maxCNAMEDepth})
		switch {
		case err == nil:
		case errors.Is(err, errNameNotFound):
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{s.soa(zone)}
		case errors.Is(err, errNoData):
			m.Ns = []dns.RR{s.soa(zone)}
		default:
			s.log.Error("dns: lookup failed", "name", q.Name, "type", dns.TypeToString[q.Qtype], "err", err)
			m = serverFailure(req, m.RecursionAvailable)
		}
	}
	s.fit(m, req, tcp)
	return m
}

// zoneOf returns the served zone name lies in ("" for none), in its
// configured spelling. The longer zone wins when one contains the other.
func (s *Server) zoneOf(name string) string {
	name = dns.CanonicalName(name)
	in := func(zone string) bool { return zone != "" && dns.IsSubDomain(zone, name) }
	long, short := s.domain, s.altDomain
	if len(short) > len(long) {
		long, short = short, long
	}
	switch {
	case in(long):
		return long
	case in(short):
		return short
	}
	return ""
}

// soa is the zone's SOA record, Consul's: the serial is the current time.
func (s *Server) soa(zone string) *dns.SOA {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: soaMinTTL},
		Ns:      "ns." + zone,
		Mbox:    "hostmaster." + zone,
		Serial:  uint32(time.Now().Unix()),
		Refresh: soaRefresh,
		Retry:   soaRetry,
		Expire:  soaExpire,
		Minttl:  soaMinTTL,
	}
}

func refused(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeRefused)
	return m
}

func serverFailure(req *dns.Msg, recursion bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeServerFailure)
	m.RecursionAvailable = recursion
	return m
}
