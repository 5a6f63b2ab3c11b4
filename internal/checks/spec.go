package checks

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The kinds of check, as Spec.Type reports them (Consul's CheckType.Type).
const (
	typeHTTP   = "http"
	typeTCP    = "tcp"
	typeUDP    = "udp"
	typeGRPC   = "grpc"
	typeTTL    = "ttl"
	typeScript = "script"
)

// Spec is the definition of one check: the subset of Consul's CheckType that
// runs on an agent. Exactly one kind is set: HTTP, TCP, UDP, GRPC, TTL or
// Args. Fields that do not apply to the kind (Method on a TCP check, say) are
// ignored, as Consul ignores them.
type Spec struct {
	// ID names the check in notifications. Required.
	ID string

	// HTTP is the URL of an HTTP check, http:// or https://.
	HTTP string
	// Method of the HTTP request; default GET.
	Method string
	// Header of the HTTP request. A "Host" entry sets the request's Host.
	// User-Agent defaults to UserAgent, Accept to "text/plain, text/*, */*".
	Header map[string][]string
	// Body of the HTTP request.
	Body string
	// TLSSkipVerify disables certificate verification of HTTPS checks and of
	// gRPC checks with GRPCUseTLS.
	TLSSkipVerify bool
	// TLSServerName is the name the server's certificate is verified against,
	// and the SNI sent, instead of the host of the target.
	TLSServerName string

	// TCP is the host:port of a TCP check.
	TCP string

	// UDP is the host:port of a UDP check.
	UDP string

	// GRPC is the target of a gRPC check: host:port, or host:port/service to
	// ask for the health of one service rather than of the whole server.
	GRPC string
	// GRPCUseTLS makes a gRPC check connect with TLS; default plaintext.
	GRPCUseTLS bool

	// TTL makes a TTL check: it turns critical if SetTTL is not called for
	// this long.
	TTL time.Duration

	// Args makes a script check: the program Args[0] with arguments Args[1:],
	// run without a shell. Needs Options.EnableScriptChecks.
	Args []string

	// Interval between the end of a probe and the start of the next one.
	// Required for every kind but TTL, which must not set it. A runner raises
	// an Interval below MinInterval to MinInterval.
	Interval time.Duration
	// Timeout bounds one probe; default DefaultTimeout, or
	// DefaultScriptTimeout for a script check. It may exceed Interval: probes
	// never overlap, a slow one delays the next.
	Timeout time.Duration

	// SuccessBeforePassing, FailuresBeforeWarning and FailuresBeforeCritical
	// delay the report of a change, as Consul's StatusHandler does. Passing
	// and warning results count as successes, critical ones as failures. A
	// success is reported once SuccessBeforePassing successes in a row have
	// been seen; a failure is reported as critical once
	// FailuresBeforeCritical failures in a row have been seen, else as
	// warning once FailuresBeforeWarning have, else not at all. The first
	// result of a check is always reported. FailuresBeforeWarning defaults
	// to FailuresBeforeCritical and must not exceed it. TTL checks ignore
	// all three, as in Consul.
	SuccessBeforePassing   int
	FailuresBeforeWarning  int
	FailuresBeforeCritical int

	// OutputMaxSize is the most output kept from one probe; default
	// DefaultOutputMaxSize.
	OutputMaxSize int
}

// ValidationError says which field of which check is wrong.
type ValidationError struct {
	CheckID string
	Field   string
	Value   any
	Err     error
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("checks: check %q: %s=%v: %v", e.CheckID, e.Field, e.Value, e.Err)
}

func (e *ValidationError) Unwrap() error { return e.Err }

// Type returns the kind of the check: "http", "tcp", "udp", "grpc", "ttl" or
// "script"; or "" if the Spec sets no kind or more than one (Validate says
// which).
func (s *Spec) Type() string {
	kinds := s.kinds()
	if len(kinds) != 1 {
		return ""
	}
	return kinds[0]
}

// kinds lists every kind the Spec sets, in a fixed order.
func (s *Spec) kinds() []string {
	var kinds []string
	if s.HTTP != "" {
		kinds = append(kinds, typeHTTP)
	}
	if s.TCP != "" {
		kinds = append(kinds, typeTCP)
	}
	if s.UDP != "" {
		kinds = append(kinds, typeUDP)
	}
	if s.GRPC != "" {
		kinds = append(kinds, typeGRPC)
	}
	if s.TTL != 0 {
		kinds = append(kinds, typeTTL)
	}
	if len(s.Args) > 0 {
		kinds = append(kinds, typeScript)
	}
	return kinds
}

// Validate reports the first problem of the Spec as a *ValidationError, or
// nil. It does not modify the Spec: defaults and the MinInterval floor are
// applied by Start, to its own copy. Whether script checks are enabled is
// Start's business too.
func (s *Spec) Validate() error {
	invalid := func(field string, value any, format string, args ...any) error {
		return &ValidationError{CheckID: s.ID, Field: field, Value: value, Err: fmt.Errorf(format, args...)}
	}
	if s.ID == "" {
		return invalid("ID", s.ID, "is required")
	}
	kinds := s.kinds()
	switch len(kinds) {
	case 0:
		return invalid("Type", "", "no kind of check is set; set one of HTTP, TCP, UDP, GRPC, TTL or Args")
	case 1:
	default:
		return invalid("Type", strings.Join(kinds, ","), "more than one kind of check is set; set exactly one")
	}
	kind := kinds[0]

	if kind == typeTTL {
		if s.TTL < 0 {
			return invalid("TTL", s.TTL, "must be > 0")
		}
		if s.Interval != 0 {
			return invalid("Interval", s.Interval, "must not be set on a TTL check")
		}
	} else if s.Interval <= 0 {
		return invalid("Interval", s.Interval, "must be > 0 for %s checks", kind)
	}
	if s.Timeout < 0 {
		return invalid("Timeout", s.Timeout, "must not be negative")
	}
	if s.OutputMaxSize < 0 {
		return invalid("OutputMaxSize", s.OutputMaxSize, "must not be negative")
	}
	for _, f := range []struct {
		name  string
		value int
	}{
		{"SuccessBeforePassing", s.SuccessBeforePassing},
		{"FailuresBeforeWarning", s.FailuresBeforeWarning},
		{"FailuresBeforeCritical", s.FailuresBeforeCritical},
	} {
		if f.value < 0 {
			return invalid(f.name, f.value, "must not be negative")
		}
	}
	if s.FailuresBeforeWarning > s.FailuresBeforeCritical {
		return invalid("FailuresBeforeWarning", s.FailuresBeforeWarning,
			"must not exceed FailuresBeforeCritical (%d)", s.FailuresBeforeCritical)
	}

	switch kind {
	case typeHTTP:
		u, err := url.Parse(s.HTTP)
		if err != nil {
			return invalid("HTTP", s.HTTP, "%w", err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalid("HTTP", s.HTTP, "must be an absolute http:// or https:// URL")
		}
		// NewRequest knows which methods are valid tokens.
		if _, err := http.NewRequest(s.Method, s.HTTP, nil); err != nil {
			return invalid("Method", s.Method, "%w", err)
		}
	case typeTCP:
		if err := validateHostPort(s.TCP); err != nil {
			return invalid("TCP", s.TCP, "%w", err)
		}
	case typeUDP:
		if err := validateHostPort(s.UDP); err != nil {
			return invalid("UDP", s.UDP, "%w", err)
		}
	case typeGRPC:
		addr, _, _ := strings.Cut(s.GRPC, "/")
		if err := validateHostPort(addr); err != nil {
			return invalid("GRPC", s.GRPC, "want host:port or host:port/service: %w", err)
		}
	case typeScript:
		if s.Args[0] == "" {
			return invalid("Args", s.Args, "the program (Args[0]) is empty")
		}
	}
	return nil
}

func validateHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if port == "" {
		return errors.New("missing port")
	}
	return nil
}

// withDefaults returns a copy of a valid Spec with the defaults filled in, and
// its own copies of Header and Args, so the caller may reuse them. The
// MinInterval floor is applied by Start, which logs it.
func withDefaults(s Spec) Spec {
	s.Header = http.Header(s.Header).Clone()
	s.Args = slices.Clone(s.Args)
	if s.Method == "" {
		s.Method = http.MethodGet
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
		if len(s.Args) > 0 {
			s.Timeout = DefaultScriptTimeout
		}
	}
	if s.OutputMaxSize == 0 {
		s.OutputMaxSize = DefaultOutputMaxSize
	}
	// Consul's agent does the same before building the StatusHandler.
	if s.FailuresBeforeWarning == 0 {
		s.FailuresBeforeWarning = s.FailuresBeforeCritical
	}
	return s
}
