package dns

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/musterhq/muster/internal/state"
)

func TestStartShutdown(t *testing.T) {
	c := newCatalog(t)
	c.node("n1", "10.0.0.1", nil)
	s, err := New(func() Config {
		cfg := DefaultConfig()
		cfg.Addr = "127.0.0.1:0"
		cfg.Catalog = StoreCatalog(func() *state.Store { return c.st })
		return cfg
	}())
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != "" {
		t.Errorf("Addr before Start = %q, want empty", s.Addr())
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start: %v, want ErrStarted", err)
	}
	_, port, _ := net.SplitHostPort(s.Addr())
	if port == "0" || port == "" {
		t.Fatalf("Addr = %q, want the bound port", s.Addr())
	}
	for _, network := range []string{"udp", "tcp"} {
		if got := show(ask(t, s.Addr(), network, "n1.node.consul.", dns.TypeA, 0).Answer); !slices.Equal(got, []string{"A 10.0.0.1"}) {
			t.Errorf("%s: answer %q", network, got)
		}
	}
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := s.Start(); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Shutdown: %v, want ErrClosed", err)
	}
	if _, _, err := (&dns.Client{Net: "tcp", Timeout: time.Second}).Exchange(new(dns.Msg).SetQuestion("n1.node.consul.", dns.TypeA), s.Addr()); err == nil {
		t.Error("TCP still answers after Shutdown")
	}
}

func TestShutdownBeforeStart(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Catalog = StoreCatalog(state.New)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Shutdown: %v, want ErrClosed", err)
	}
}

// upstream starts a UDP DNS server on loopback, a recursor that answers
// every question with rcode and, if ip is set, an A record.
func upstream(t *testing.T, rcode int, ip string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(up) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
			m := new(dns.Msg)
			m.SetRcode(req, rcode)
			m.RecursionAvailable = true
			if ip != "" {
				m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)}}
			}
			w.WriteMsg(m)
		})}
	go srv.ActivateAndServe()
	<-up
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestOutsideZone(t *testing.T) {
	c := newCatalog(t)
	failing := upstream(t, dns.RcodeServerFailure, "")
	refusing := upstream(t, dns.RcodeRefused, "")
	answering := upstream(t, dns.RcodeSuccess, "192.0.2.1")
	type testcase struct {
		recursors []string
		name      string
		rcode     int
		ra        bool
		want      []string
	}
	tests := map[string]testcase{
		"no recursors":               {name: "example.com.", rcode: dns.RcodeRefused},
		"no recursors, zone's child": {name: "xconsul.", rcode: dns.RcodeRefused},
		"reverse lookups":            {name: "1.0.0.10.in-addr.arpa.", rcode: dns.RcodeRefused},
		"first recursor answers":     {recursors: []string{answering}, name: "example.com.", ra: true, want: []string{"A 192.0.2.1"}},
		"failing recursor skipped":   {recursors: []string{failing, answering}, name: "example.com.", ra: true, want: []string{"A 192.0.2.1"}},
		"all recursors fail":         {recursors: []string{failing, refusing}, name: "example.com.", rcode: dns.RcodeServerFailure, ra: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := c.serve(func(cfg *Config) { cfg.Recursors = tc.recursors })
			resp := ask(t, s.Addr(), "udp", tc.name, dns.TypeA, 0)
			if resp.Rcode != tc.rcode || resp.RecursionAvailable != tc.ra {
				t.Errorf("rcode %s ra=%v, want %s ra=%v", dns.RcodeToString[resp.Rcode], resp.RecursionAvailable, dns.RcodeToString[tc.rcode], tc.ra)
			}
			if got := show(resp.Answer); !slices.Equal(got, tc.want) {
				t.Errorf("answer %q, want %q", got, tc.want)
			}
		})
	}
}

// A service whose address is a host name outside the zone is resolved
// through the recursors.
func TestHostNameResolvedByRecursor(t *testing.T) {
	c := newCatalog(t)
	c.instance("n1", "10.0.0.1", state.Service{Service: "ext", Address: "db.example.org", Port: 5432}, "")
	s := c.serve(func(cfg *Config) { cfg.Recursors = []string{upstream(t, dns.RcodeSuccess, "192.0.2.7")} })
	resp := ask(t, s.Addr(), "udp", "ext.service.consul.", dns.TypeA, 0)
	want := []string{"db.example.org. A 192.0.2.7", "ext.service.consul. CNAME db.example.org."}
	if got := named(resp.Answer); !slices.Equal(got, want) {
		t.Errorf("answer %q, want %q", got, want)
	}
	if !resp.Authoritative || !resp.RecursionAvailable {
		t.Errorf("aa=%v ra=%v, want both", resp.Authoritative, resp.RecursionAvailable)
	}
}

// manyCatalog holds n passing instances of "web", each on its own node.
func manyCatalog(t *testing.T, n int) *catalog {
	c := newCatalog(t)
	for i := range n {
		c.instance(fmt.Sprintf("node-%03d", i), fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), state.Service{Service: "web", Port: 80}, "")
	}
	return c
}

func TestTruncation(t *testing.T) {
	const n = 60
	c := manyCatalog(t, n)
	limited := c.serve(nil) // UDPAnswerLimit 3
	unlimited := c.serve(func(cfg *Config) { cfg.UDPAnswerLimit = 1000; cfg.NodeMetaTXT = false })

	type testcase struct {
		srv     *Server
		network string
		qtype   uint16
		edns    uint16
		answers int // -1: fewer than n, as many as fit
		tc      bool
	}
	tests := map[string]testcase{
		"udp answer limit":          {limited, "udp", dns.TypeA, 0, 3, true},
		"udp answer limit, SRV":     {limited, "udp", dns.TypeSRV, 0, 3, true},
		"udp edns lifts the limit":  {limited, "udp", dns.TypeA, 4096, n, false},
		"udp 512 bytes":             {unlimited, "udp", dns.TypeA, 0, -1, true},
		"udp 512 bytes, SRV":        {unlimited, "udp", dns.TypeSRV, 0, -1, true},
		"udp small edns size":       {unlimited, "udp", dns.TypeA, 600, -1, true},
		"udp edns size, SRV":        {unlimited, "udp", dns.TypeSRV, 1232, -1, true},
		"udp large edns size, SRV":  {unlimited, "udp", dns.TypeSRV, 8192, n, false},
		"tcp in full":               {limited, "tcp", dns.TypeA, 0, n, false},
		"tcp in full, SRV":          {limited, "tcp", dns.TypeSRV, 0, n, false},
		"tcp in full, edns ignored": {unlimited, "tcp", dns.TypeSRV, 512, n, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resp := ask(t, tc.srv.Addr(), tc.network, "web.service.consul.", tc.qtype, tc.edns)
			if resp.Rcode != dns.RcodeSuccess || resp.Truncated != tc.tc {
				t.Errorf("rcode %s tc=%v, want NOERROR tc=%v", dns.RcodeToString[resp.Rcode], resp.Truncated, tc.tc)
			}
			switch {
			case tc.answers >= 0 && len(resp.Answer) != tc.answers:
				t.Errorf("%d answers, want %d", len(resp.Answer), tc.answers)
			case tc.answers < 0 && (len(resp.Answer) < 2 || len(resp.Answer) >= n):
				t.Errorf("%d answers, want as many of %d as fit", len(resp.Answer), n)
			}
			size := dns.MinMsgSize
			if tc.edns > dns.MinMsgSize {
				size = int(tc.edns)
			}
			resp.Compress = true // as sent; Len measures the message as it would pack
			if tc.network == "udp" && resp.Len() > size {
				t.Errorf("response of %d bytes, want at most %d", resp.Len(), size)
			}
			if tc.edns > 0 && resp.IsEdns0() == nil {
				t.Error("no EDNS record in the response")
			}
			if tc.qtype == dns.TypeSRV {
				checkSRVExtra(t, resp)
			}
		})
	}
}

// checkSRVExtra checks that the additional section holds exactly one
// address record for each SRV target in the answer.
func checkSRVExtra(t *testing.T, resp *dns.Msg) {
	t.Helper()
	var targets, extra []string
	for _, rr := range resp.Answer {
		targets = append(targets, strings.ToLower(rr.(*dns.SRV).Target))
	}
	for _, rr := range resp.Extra {
		if _, ok := rr.(*dns.A); ok {
			extra = append(extra, strings.ToLower(rr.Header().Name))
		}
	}
	slices.Sort(targets)
	slices.Sort(extra)
	if !slices.Equal(targets, extra) {
		t.Errorf("additional records for %q, want for the SRV targets %q", extra, targets)
	}
}

// The size limit holds on the wire: a response to a question without EDNS
// never exceeds 512 bytes, and one trimmed to fit says so with TC.
func TestTruncationOnTheWire(t *testing.T) {
	c := manyCatalog(t, 100)
	s := c.serve(func(cfg *Config) { cfg.UDPAnswerLimit = 1000 })
	for _, qtype := range []uint16{dns.TypeA, dns.TypeSRV} {
		n, resp := askRaw(t, s.Addr(), "web.service.consul.", qtype)
		if n > dns.MinMsgSize {
			t.Errorf("%s: %d bytes on the wire, want at most 512", dns.TypeToString[qtype], n)
		}
		if !resp.Truncated || len(resp.Answer) == 0 {
			t.Errorf("%s: tc=%v with %d answers, want a truncated answer", dns.TypeToString[qtype], resp.Truncated, len(resp.Answer))
		}
	}
}

func TestServerFailures(t *testing.T) {
	c := newCatalog(t)
	c.node("n1", "10.0.0.1", nil)
	var stores swappable
	stores.p.Store(c.st)
	s := startServer(t, stores.get, nil)

	if resp := ask(t, s.Addr(), "tcp", "consul.", dns.TypeAXFR, 0); resp.Rcode != dns.RcodeNotImplemented {
		t.Errorf("AXFR: rcode %s, want NOTIMP", dns.RcodeToString[resp.Rcode])
	}
	stores.p.Store(nil) // a getter breaking its contract: fail, do not crash
	if resp := ask(t, s.Addr(), "udp", "n1.node.consul.", dns.TypeA, 0); resp.Rcode != dns.RcodeServerFailure {
		t.Errorf("no store: rcode %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}
}
