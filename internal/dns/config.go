package dns

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Config configures a Server. Start from DefaultConfig: the zero value of
// several fields is not a usable setting.
type Config struct {
	// Addr is where the server listens, on UDP and TCP alike. Port 0 picks
	// a free port, the same for both protocols (Server.Addr reports it).
	Addr string

	// Domain is the zone the server answers for. Case does not matter; a
	// missing final dot is added.
	Domain string

	// AltDomain is a second zone answered exactly like Domain (Consul's
	// alt_domain); records in an answer use the zone the question named.
	// Empty disables it.
	AltDomain string

	// Datacenter is the only datacenter the server knows: names may carry
	// it (web.service.dc1.consul) or leave it out; any other datacenter is
	// NXDOMAIN.
	Datacenter string

	// NodeTTL is the TTL of node, addr and NS records; ServiceTTL that of
	// service answers. Rounded down to whole seconds.
	NodeTTL    time.Duration
	ServiceTTL time.Duration

	// OnlyPassing leaves out service instances with a warning check
	// (Consul's dns_config.only_passing). Instances with a critical check
	// are never returned.
	OnlyPassing bool

	// UDPAnswerLimit caps the answers of a UDP response to a query without
	// EDNS (or with an EDNS size of at most 512) (Consul's
	// dns_config.udp_answer_limit). Must be at least 1.
	UDPAnswerLimit int

	// NodeMetaTXT adds a node's metadata as TXT records to the additional
	// section of node A/AAAA and service SRV answers (Consul's
	// dns_config.enable_additional_node_meta_txt). TXT and ANY questions
	// for a node always answer with them.
	NodeMetaTXT bool

	// Recursors are the DNS servers ("host" or "host:port", port 53 by
	// default) that questions outside the served zones are forwarded to, in
	// order, until one answers NOERROR or NXDOMAIN. Without recursors such
	// questions are REFUSED.
	Recursors []string

	// RecursorTimeout bounds one exchange with one recursor.
	RecursorTimeout time.Duration

	// Catalog is what the server answers from: StoreCatalog on a server
	// (or in dev mode), the servers' catalog on a client agent. Required.
	Catalog Catalog

	// Logger receives the server's logs. Nil discards them.
	Logger *slog.Logger
}

// DefaultConfig returns Consul's defaults. Catalog must still be set.
func DefaultConfig() Config {
	return Config{
		Addr:            "127.0.0.1:8600", // Consul's client_addr and ports.dns
		Domain:          "consul.",        // Consul's domain
		AltDomain:       "muster.",        // answered like Domain
		Datacenter:      "dc1",            // Consul's datacenter
		NodeTTL:         0,                // Consul's node_ttl: answers are not cached
		ServiceTTL:      0,                // Consul's service_ttl
		OnlyPassing:     false,            // warning instances are returned
		UDPAnswerLimit:  3,                // Consul's udp_answer_limit
		NodeMetaTXT:     true,             // Consul's enable_additional_node_meta_txt
		RecursorTimeout: 2 * time.Second,  // Consul's recursor_timeout
	}
}

// ValidationError names the Config field that is wrong.
type ValidationError struct {
	Field string
	Value any
	Err   error
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("dns: config %s=%v: %v", e.Field, e.Value, e.Err)
}

func (e *ValidationError) Unwrap() error { return e.Err }

func invalid(field string, value any, format string, args ...any) error {
	return &ValidationError{field, value, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)}
}

// Validate checks c. It changes nothing; New normalizes what it accepts.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return invalid("Addr", c.Addr, "want host:port: %v", err)
	}
	if !validZone(c.Domain) {
		return invalid("Domain", c.Domain, "want a domain name other than the root")
	}
	if c.AltDomain != "" {
		if !validZone(c.AltDomain) {
			return invalid("AltDomain", c.AltDomain, "want a domain name other than the root, or empty")
		}
		if dns.CanonicalName(c.AltDomain) == dns.CanonicalName(c.Domain) {
			return invalid("AltDomain", c.AltDomain, "same as Domain")
		}
	}
	if c.Datacenter == "" || strings.Contains(c.Datacenter, ".") || !validZone(c.Datacenter) {
		return invalid("Datacenter", c.Datacenter, "want one DNS label")
	}
	if c.NodeTTL < 0 {
		return invalid("NodeTTL", c.NodeTTL, "negative")
	}
	if c.ServiceTTL < 0 {
		return invalid("ServiceTTL", c.ServiceTTL, "negative")
	}
	if c.UDPAnswerLimit < 1 {
		return invalid("UDPAnswerLimit", c.UDPAnswerLimit, "want at least 1")
	}
	for _, r := range c.Recursors {
		if _, err := recursorAddr(r); err != nil {
			return invalid("Recursors", r, "%v", err)
		}
	}
	if len(c.Recursors) > 0 && c.RecursorTimeout <= 0 {
		return invalid("RecursorTimeout", c.RecursorTimeout, "want a positive duration")
	}
	if c.Catalog == nil {
		return invalid("Catalog", nil, "required")
	}
	return nil
}

// validZone reports whether name is a domain name other than the root.
func validZone(name string) bool {
	name = dns.Fqdn(name)
	_, ok := dns.IsDomainName(name)
	return ok && name != "."
}

// recursorAddr returns r as host:port, with port 53 if r has none.
func recursorAddr(r string) (string, error) {
	if ip := net.ParseIP(r); ip != nil {
		return net.JoinHostPort(r, "53"), nil
	}
	host, port, err := net.SplitHostPort(r)
	if err != nil {
		if strings.Contains(r, ":") || r == "" {
			return "", fmt.Errorf("want host or host:port: %w", err)
		}
		host, port = r, "53"
	}
	if host == "" || port == "" {
		return "", errors.New("want host or host:port")
	}
	return net.JoinHostPort(host, port), nil
}
