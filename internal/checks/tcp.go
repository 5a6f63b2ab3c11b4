package checks

import (
	"context"
	"net"
)

// tcpProber is the prober of a TCP check (Consul's CheckTCP): passing if a
// connection opens within the timeout, critical with the dial error if not.
type tcpProber struct {
	addr   string
	dialer net.Dialer
}

func (p *tcpProber) probe(ctx context.Context) (string, string) {
	conn, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return Critical, err.Error()
	}
	conn.Close()
	return Passing, "TCP connect " + p.addr + ": Success"
}

func (p *tcpProber) close() {}
