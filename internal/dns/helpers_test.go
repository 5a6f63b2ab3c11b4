package dns

import (
	"fmt"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/musterhq/muster/internal/state"
)

// catalog writes to a real store through its own write API.
type catalog struct {
	t   *testing.T
	st  *state.Store
	idx uint64
}

func newCatalog(t *testing.T) *catalog {
	return &catalog{t: t, st: state.New()}
}

// register applies one registration at the next index.
func (c *catalog) register(r *state.Registration) {
	c.t.Helper()
	c.idx++
	if err := c.st.Register(c.idx, time.Now().UnixNano(), r); err != nil {
		c.t.Fatalf("register %+v: %v", r, err)
	}
}

// node registers a node with no service.
func (c *catalog) node(name, addr string, meta map[string]string) {
	c.t.Helper()
	c.register(&state.Registration{Node: state.Node{Node: name, Address: addr, Meta: meta}})
}

// instance registers svc on a node of its own at nodeAddr, with one
// service check in status (none if status is "").
func (c *catalog) instance(node, nodeAddr string, svc state.Service, status string) {
	c.t.Helper()
	r := &state.Registration{Node: state.Node{Node: node, Address: nodeAddr}, Service: &svc}
	if svc.ID == "" {
		svc.ID = svc.Service + "-" + node
	}
	if status != "" {
		r.Checks = []*state.HealthCheck{{CheckID: "check-" + svc.ID, Status: status, ServiceID: svc.ID}}
	}
	c.register(r)
}

// startServer starts a server on 127.0.0.1:0 answering from get, with
// DefaultConfig changed by edit (may be nil). It shuts down with the test.
func startServer(t *testing.T, get func() *state.Store, edit func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Catalog = StoreCatalog(get)
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// serve starts a server answering from the catalog's store.
func (c *catalog) serve(edit func(*Config)) *Server {
	c.t.Helper()
	return startServer(c.t, func() *state.Store { return c.st }, edit)
}

// swappable is a store getter whose store can be replaced, as the agent's
// is on a snapshot restore.
type swappable struct{ p atomic.Pointer[state.Store] }

func (s *swappable) get() *state.Store { return s.p.Load() }

// ask sends one question over network ("udp" or "tcp"), with an EDNS
// record of size edns unless it is 0, and returns the response.
func ask(t *testing.T, addr, network, name string, qtype, edns uint16) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	if edns > 0 {
		q.SetEdns0(edns, false)
	}
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	resp, _, err := c.Exchange(q, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	return resp
}

// askRaw sends a question without EDNS over UDP and returns the response's
// size on the wire, read with a 64 KiB buffer, and the response.
func askRaw(t *testing.T, addr, name string, qtype uint16) (int, *dns.Msg) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	wire, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(wire); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	resp := new(dns.Msg)
	if err := resp.Unpack(buf[:n]); err != nil {
		t.Fatal(err)
	}
	return n, resp
}

// show renders records compactly, sorted: "A 10.0.0.1",
// "SRV 1 10 80 n1.node.dc1.consul.", "TXT k=v". OPT records are left out.
func show(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		switch r := rr.(type) {
		case *dns.A:
			out = append(out, "A "+r.A.String())
		case *dns.AAAA:
			out = append(out, "AAAA "+r.AAAA.String())
		case *dns.SRV:
			out = append(out, fmt.Sprintf("SRV %d %d %d %s", r.Priority, r.Weight, r.Port, r.Target))
		case *dns.CNAME:
			out = append(out, "CNAME "+r.Target)
		case *dns.TXT:
			out = append(out, "TXT "+r.Txt[0])
		case *dns.NS:
			out = append(out, "NS "+r.Ns)
		case *dns.SOA:
			out = append(out, "SOA "+r.Ns)
		case *dns.OPT:
		default:
			out = append(out, rr.String())
		}
	}
	slices.Sort(out)
	return out
}

// named renders records with their owner names, sorted.
func named(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if _, ok := rr.(*dns.OPT); !ok {
			out = append(out, rr.Header().Name+" "+show([]dns.RR{rr})[0])
		}
	}
	slices.Sort(out)
	return out
}

// hasSOA reports whether the authority section is exactly the zone's SOA.
func hasSOA(m *dns.Msg, zone string) bool {
	if len(m.Ns) != 1 {
		return false
	}
	soa, ok := m.Ns[0].(*dns.SOA)
	return ok && soa.Hdr.Name == zone
}
