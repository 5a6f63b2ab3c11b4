package checks

import (
	"context"
	"crypto/tls"
)

// prober runs the probes of one interval check: http.go, tcp.go, udp.go,
// grpc.go and script.go hold the implementations.
//
// Both methods are called from the runner's goroutine only, so a prober needs
// no locking.
type prober interface {
	// probe runs one probe and returns its status (Passing, Warning or
	// Critical) and output. ctx carries the check's Timeout, and is also
	// cancelled by Stop; probe must return soon after ctx is done.
	probe(ctx context.Context) (status, output string)

	// close releases what the prober holds (connections). It is called once,
	// after the last probe.
	close()
}

// newProber returns the prober of a valid interval check whose Spec has its
// defaults.
func newProber(s Spec, opts Options) (prober, error) {
	switch s.Type() {
	case typeHTTP:
		return newHTTPProber(s, checkTLSConfig(opts.TLSConfig, s)), nil
	case typeTCP:
		return &tcpProber{addr: s.TCP}, nil
	case typeUDP:
		return &udpProber{addr: s.UDP}, nil
	case typeGRPC:
		var tlsConfig *tls.Config
		if s.GRPCUseTLS {
			tlsConfig = checkTLSConfig(opts.TLSConfig, s)
		}
		return newGRPCProber(s.GRPC, tlsConfig)
	case typeScript:
		return &scriptProber{args: s.Args, timeout: s.Timeout, maxOutput: s.OutputMaxSize}, nil
	}
	panic("checks: newProber called for a " + s.Type() + " check")
}

// checkTLSConfig returns a copy of base (or of an empty config) with the
// check's TLSSkipVerify and TLSServerName applied (Consul's
// OutgoingTLSConfigForCheck).
func checkTLSConfig(base *tls.Config, s Spec) *tls.Config {
	c := &tls.Config{}
	if base != nil {
		c = base.Clone()
	}
	if s.TLSSkipVerify {
		c.InsecureSkipVerify = true
	}
	if s.TLSServerName != "" {
		c.ServerName = s.TLSServerName
	}
	return c
}
