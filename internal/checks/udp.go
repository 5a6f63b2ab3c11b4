package checks

import (
	"context"
	"errors"
	"net"
	"os"
	"time"
)

// udpProber is the prober of a UDP check (Consul's CheckUDP). It sends an
// empty datagram and waits for an answer until the timeout. UDP has no
// handshake, so silence is the normal answer of a healthy service and counts
// as passing, as does any datagram back; the check is critical only on an
// error, such as the "connection refused" that reports an ICMP port
// unreachable.
//
// Consul sets no read deadline, so its probe of a silent service waits for
// the next error; here it waits for the probe's Timeout.
type udpProber struct {
	addr   string
	dialer net.Dialer
}

func (p *udpProber) probe(ctx context.Context) (string, string) {
	conn, err := p.dialer.DialContext(ctx, "udp", p.addr)
	if err != nil {
		return Critical, err.Error()
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	// Stop cancels ctx before its deadline: end the read then too.
	defer context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })()

	if _, err := conn.Write(nil); err != nil {
		return Critical, err.Error()
	}
	_, err = conn.Read(make([]byte, 1))
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return Critical, err.Error()
	}
	return Passing, "UDP connect " + p.addr + ": Success"
}

func (p *udpProber) close() {}
