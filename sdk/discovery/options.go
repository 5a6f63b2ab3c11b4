package discovery

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Options configures a Resolver. A zero field takes its default from
// DefaultOptions, so Options{} is valid.
type Options struct {
	// Tag, when set, keeps only the instances registered with this tag
	// (the blocking query's ?tag=). It applies to every service the
	// Resolver watches.
	Tag string

	// WaitTime is the longest one blocking query waits for a change before
	// the agent answers with the unchanged list and the Watcher asks again.
	// It bounds nothing a caller sees: changes are reported as they happen.
	// The agent caps it at 10 minutes.
	WaitTime time.Duration

	// AllowStale lets any server answer from its local state (?stale)
	// instead of forwarding to the leader. Against a cluster, it spreads the
	// watchers' load over the servers at the price of a list up to a few
	// hundred milliseconds older.
	AllowStale bool

	// BackoffMin and BackoffMax bound the wait before retrying after a
	// failed query: it starts near BackoffMin, doubles per consecutive
	// failure up to BackoffMax, and is jittered (between half and all of
	// it) so watchers of one agent do not retry in step.
	BackoffMin time.Duration
	BackoffMax time.Duration

	// Logger receives a warning per failed query and a note when queries
	// succeed again. Nil discards.
	Logger *slog.Logger
}

// DefaultOptions returns the defaults that NewResolver applies to zero fields.
func DefaultOptions() Options {
	return Options{
		WaitTime:   55 * time.Second,       // under the 60 s idle timeout common in proxies between client and agent
		BackoffMin: 100 * time.Millisecond, // first retry after ~100 ms
		BackoffMax: 5 * time.Second,        // an unreachable agent is asked at least every 5 s
		Logger:     slog.New(slog.DiscardHandler),
	}
}

// maxWaitTime is the agent's own cap on a blocking query (Consul's).
const maxWaitTime = 10 * time.Minute

// withDefaults returns o with its zero fields set.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.WaitTime == 0 {
		o.WaitTime = d.WaitTime
	}
	if o.BackoffMin == 0 {
		o.BackoffMin = d.BackoffMin
	}
	if o.BackoffMax == 0 {
		o.BackoffMax = max(d.BackoffMax, o.BackoffMin)
	}
	if o.Logger == nil {
		o.Logger = d.Logger
	}
	return o
}

// Validate reports the first invalid field of o, after defaults, as an
// *OptionError.
func (o Options) Validate() error {
	o = o.withDefaults()
	switch {
	case o.WaitTime < 0 || o.WaitTime > maxWaitTime:
		return &OptionError{Field: "WaitTime", Value: o.WaitTime, Err: fmt.Errorf("must be between 0 and %v", maxWaitTime)}
	case o.BackoffMin < 0:
		return &OptionError{Field: "BackoffMin", Value: o.BackoffMin, Err: errors.New("must not be negative")}
	case o.BackoffMax < o.BackoffMin:
		return &OptionError{Field: "BackoffMax", Value: o.BackoffMax, Err: fmt.Errorf("must be at least BackoffMin (%v)", o.BackoffMin)}
	}
	return nil
}

// OptionError reports an invalid argument to NewResolver: an Options field
// or the client.
type OptionError struct {
	Field string // "WaitTime", "BackoffMin", "BackoffMax" or "client"
	Value any    // the rejected value, after defaults
	Err   error
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("discovery: %s %v: %v", e.Field, e.Value, e.Err)
}

func (e *OptionError) Unwrap() error { return e.Err }
