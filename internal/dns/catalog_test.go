package dns

import (
	"errors"
	"testing"

	"github.com/miekg/dns"

	"github.com/musterhq/muster/internal/state"
)

// failingCatalog is a Catalog whose reads fail, as a client agent's do
// when no server answers.
type failingCatalog struct{}

var errUnreachable = errors.New("no server reachable")

func (failingCatalog) Node(string) (*state.Node, error) { return nil, errUnreachable }
func (failingCatalog) ServiceInstances(string) ([]state.ServiceInstance, error) {
	return nil, errUnreachable
}

// A catalog that cannot be read answers SERVFAIL, never NXDOMAIN: a
// resolver must not cache a denial for a name that may well exist.
func TestCatalogFailure(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Catalog = failingCatalog{}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown() })

	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"web.service.consul.", dns.TypeA},
		{"_web._tcp.service.consul.", dns.TypeSRV},
		{"n1.node.consul.", dns.TypeA},
	} {
		if resp := ask(t, s.Addr(), "udp", q.name, q.qtype, 0); resp.Rcode != dns.RcodeServerFailure {
			t.Errorf("%s %s: rcode %s, want SERVFAIL", q.name, dns.TypeToString[q.qtype], dns.RcodeToString[resp.Rcode])
		}
	}
	// Names that need no catalog still answer.
	if resp := ask(t, s.Addr(), "udp", "7f000001.addr.dc1.consul.", dns.TypeA, 0); resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
		t.Errorf("addr: rcode %s, answer %v", dns.RcodeToString[resp.Rcode], resp.Answer)
	}
	if resp := ask(t, s.Addr(), "udp", "consul.", dns.TypeSOA, 0); resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
		t.Errorf("SOA: rcode %s, answer %v", dns.RcodeToString[resp.Rcode], resp.Answer)
	}
}
