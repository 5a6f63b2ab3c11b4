package checks

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"time"
)

// Check statuses, the values of Consul's api.HealthPassing and friends.
const (
	Passing  = "passing"
	Warning  = "warning"
	Critical = "critical"
)

// Defaults, as in Consul's agent/checks.
const (
	// MinInterval is the shortest Interval a runner uses; a shorter one is
	// raised to it (with a warning in the log), so that a careless definition
	// cannot fork-bomb the host with script checks.
	MinInterval = time.Second

	// DefaultTimeout bounds one probe of an HTTP, TCP, UDP or gRPC check
	// whose Spec sets no Timeout.
	DefaultTimeout = 10 * time.Second

	// DefaultScriptTimeout bounds one run of a script check whose Spec sets
	// no Timeout; the script's process group is killed when it expires.
	DefaultScriptTimeout = 30 * time.Second

	// DefaultOutputMaxSize is the most output kept from one probe (an HTTP
	// body, a script's output, a TTL update) when the Spec sets no
	// OutputMaxSize.
	DefaultOutputMaxSize = 4 * 1024

	// UserAgent is sent by HTTP checks whose Header sets none.
	UserAgent = "Consul Health Check"
)

// Errors returned by Start and SetTTL. Validation errors are *ValidationError.
var (
	ErrScriptChecksDisabled = errors.New("checks: script checks are disabled on this agent; to enable, configure 'enable_script_checks' to true")
	ErrNotTTL               = errors.New("checks: not a TTL check")
	ErrInvalidStatus        = errors.New("checks: invalid status")
	ErrStopped              = errors.New("checks: runner stopped")
)

// Notifier receives the results of checks.
//
// UpdateCheck is called with every result that passes the check's thresholds,
// not only with changes, so it should be idempotent (as Consul's
// CheckNotifier). For an interval check it is called from the runner's own
// goroutine; for a TTL check from the goroutine calling SetTTL or from a timer
// goroutine when the TTL expires. Calls for one Runner never overlap and are
// made with the runner's lock held: UpdateCheck must not block for long, and
// must not call Stop or SetTTL of the same Runner (that would deadlock).
// Calls for different runners may run concurrently.
type Notifier interface {
	UpdateCheck(checkID, status, output string)
}

// NotifyFunc adapts a function to the Notifier interface.
type NotifyFunc func(checkID, status, output string)

// UpdateCheck calls f(checkID, status, output).
func (f NotifyFunc) UpdateCheck(checkID, status, output string) { f(checkID, status, output) }

// Options are the agent-wide settings of a Runner. The zero value is usable:
// no logs, script checks disabled, system TLS roots.
type Options struct {
	// Logger receives the runner's logs: status changes at warn, every
	// result at debug. Nil discards them.
	Logger *slog.Logger

	// EnableScriptChecks allows checks with Args (Consul's
	// enable_script_checks). Off by default: a script check runs whatever
	// program its definition names, with the agent's privileges.
	EnableScriptChecks bool

	// TLSConfig is the base TLS configuration of HTTPS checks and gRPC checks
	// with GRPCUseTLS (Consul uses the agent's own TLS settings when
	// enable_agent_tls_for_checks is set). Start clones it and applies the
	// Spec's TLSSkipVerify and TLSServerName to the clone. Nil means system
	// roots and no client certificate.
	TLSConfig *tls.Config

	// minInterval, when > 0, replaces MinInterval. It is unexported so that
	// only this package's tests, whose checks run every few milliseconds, can
	// lower the floor; no configuration can.
	minInterval time.Duration
}
