package musterlock

import (
	"errors"
	"fmt"
	"time"
)

// Mode selects the acquire algorithm a Lock uses.
type Mode int

const (
	// ModeAuto uses muster's fair wait once the server has shown it is
	// muster, and Consul's algorithm until then (see the package doc for
	// how the server is recognised). It is the zero value.
	ModeAuto Mode = iota
	// ModeMuster always uses muster's fair wait (api.Client.AcquireWait).
	// Against a server that is not muster, Lock fails with an error
	// wrapping api.ErrNotMuster.
	ModeMuster
	// ModeConsul always uses Consul's algorithm: plain acquires, blocking
	// reads of the key between them, and the key's ModifyIndex as the
	// fencing token. It works against muster too, without fairness.
	ModeConsul
)

// String returns the mode's name: "auto", "muster" or "consul".
func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeMuster:
		return "muster"
	case ModeConsul:
		return "consul"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Session limits, Consul's (muster enforces the same).
const (
	// MinSessionTTL is the shortest session TTL the server accepts.
	MinSessionTTL = 10 * time.Second
	// MaxLockDelay is the longest lock-delay the server accepts.
	MaxLockDelay = 60 * time.Second
	// MaxWaitTime is the longest a blocking query or fair wait parks on
	// muster; longer waits are cut to it by the server.
	MaxWaitTime = 10 * time.Minute
)

// Options configures a Lock. A zero field takes its default from
// DefaultOptions, so Options{} is valid.
type Options struct {
	// Mode selects the acquire algorithm; default ModeAuto.
	Mode Mode

	// Session, when set, is the session every hold of this Lock uses,
	// instead of one created and destroyed per hold (see Session): two Raft
	// writes fewer per hold. SessionTTL, RenewInterval, LockDelay and
	// SessionName then do not apply. Unlock releases the key and leaves the
	// session alive; closing the Session loses the hold.
	Session *Session

	// SessionTTL is the TTL of the session each hold creates: the longest a
	// holder that dies without Unlock keeps others out (Consul may take up
	// to twice as long to expire it, muster TTL plus about a second). At
	// least MinSessionTTL.
	SessionTTL time.Duration

	// RenewInterval is how often the session is renewed while a Lock call
	// waits and while the lock is held. Default SessionTTL/2; it must be
	// shorter than SessionTTL.
	RenewInterval time.Duration

	// LockDelay is the session's lock-delay: how long the key stays
	// unacquirable after the session is invalidated while holding it. The
	// default, and the zero value, is no delay, unlike Consul's 15s.
	//
	// Consul's delay protects a resource from a holder that lost its
	// session but has not noticed yet. This lock gives the resource
	// fencing tokens for that, and tells the holder through Lost, so the
	// delay would only keep the key idle: after a loss, after a Lock whose
	// context ended while its grant was in flight, and, on muster, in
	// front of every queued waiter. Set it if the guarded resource cannot
	// check tokens. At most MaxLockDelay.
	LockDelay time.Duration

	// SessionName names the session (shown by /v1/session/list). Default
	// "musterlock".
	SessionName string

	// Value is written to the key when the lock is acquired, and kept at
	// release.
	Value []byte

	// WaitTime bounds one blocking round trip: a fair wait on muster, a
	// blocking read of the key, or the watch of a held key. A fair wait that
	// runs out rejoins the queue at its tail, so keep it long. Default 5m,
	// at most MaxWaitTime.
	WaitTime time.Duration

	// RetryMin and RetryMax bound the pause before another plain acquire
	// when the key looked free but the acquire failed (another session's
	// lock-delay, or a race): it starts near RetryMin and doubles up to
	// RetryMax, jittered. Waits for a held key are blocking reads, not
	// pauses.
	RetryMin time.Duration
	RetryMax time.Duration

	// MonitorRetries is how many failed watch round trips in a row a hold
	// tolerates before it declares the lease lost (it cannot see the key).
	// Default 3; negative means none.
	MonitorRetries int

	// MonitorRetryTime is the pause after a failed watch round trip.
	// Default 1s.
	MonitorRetryTime time.Duration
}

// DefaultOptions returns the defaults that New applies to zero fields.
func DefaultOptions() Options {
	return Options{
		Mode:       ModeAuto,
		SessionTTL: 15 * time.Second, // Consul's usual lock session TTL
		// RenewInterval: SessionTTL/2, set by withDefaults.
		LockDelay:        0,                      // see the field's doc
		SessionName:      "musterlock",           // shown by /v1/session/list
		WaitTime:         5 * time.Minute,        // Consul's default blocking wait
		RetryMin:         10 * time.Millisecond,  // first retry after ~10ms
		RetryMax:         500 * time.Millisecond, // then at least every 500ms
		MonitorRetries:   3,                      // a blip does not lose the lease
		MonitorRetryTime: 1 * time.Second,
	}
}

// withDefaults returns o with its zero fields set.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.SessionTTL == 0 {
		o.SessionTTL = d.SessionTTL
	}
	if o.RenewInterval == 0 {
		o.RenewInterval = o.SessionTTL / 2
	}
	if o.SessionName == "" {
		o.SessionName = d.SessionName
	}
	if o.WaitTime == 0 {
		o.WaitTime = d.WaitTime
	}
	if o.RetryMin == 0 {
		o.RetryMin = d.RetryMin
	}
	if o.RetryMax == 0 {
		o.RetryMax = max(d.RetryMax, o.RetryMin)
	}
	if o.MonitorRetries == 0 {
		o.MonitorRetries = d.MonitorRetries
	}
	if o.MonitorRetryTime == 0 {
		o.MonitorRetryTime = d.MonitorRetryTime
	}
	return o
}

// Validate reports the first invalid field of o, after defaults, as an
// *OptionError.
func (o Options) Validate() error {
	o = o.withDefaults()
	if o.Mode < ModeAuto || o.Mode > ModeConsul {
		return &OptionError{Field: "Mode", Value: o.Mode, Err: errors.New("unknown mode")}
	}
	if o.LockDelay < 0 || o.LockDelay > MaxLockDelay {
		return &OptionError{Field: "LockDelay", Value: o.LockDelay, Err: fmt.Errorf("must be between 0 and %v", MaxLockDelay)}
	}
	if o.RetryMin < 0 {
		return &OptionError{Field: "RetryMin", Value: o.RetryMin, Err: errors.New("must not be negative")}
	}
	if o.RetryMax < o.RetryMin {
		return &OptionError{Field: "RetryMax", Value: o.RetryMax, Err: fmt.Errorf("must be at least RetryMin (%v)", o.RetryMin)}
	}
	return validateSession(o.SessionTTL, o.RenewInterval, o.WaitTime, o.MonitorRetryTime)
}

// SemaphoreOptions configures a Semaphore. A zero field takes its default
// from DefaultSemaphoreOptions, so SemaphoreOptions{} is valid.
type SemaphoreOptions struct {
	// SessionTTL, RenewInterval, SessionName, WaitTime, MonitorRetries and
	// MonitorRetryTime mean what they mean in Options; the session's
	// lock-delay is always 0.
	SessionTTL       time.Duration
	RenewInterval    time.Duration
	SessionName      string
	WaitTime         time.Duration
	MonitorRetries   int
	MonitorRetryTime time.Duration

	// Value is written to this contender's key (PREFIX/<session>).
	Value []byte
}

// DefaultSemaphoreOptions returns the defaults that NewSemaphore applies to
// zero fields.
func DefaultSemaphoreOptions() SemaphoreOptions {
	d := DefaultOptions()
	return SemaphoreOptions{
		SessionTTL:       d.SessionTTL,
		SessionName:      "musterlock semaphore", // shown by /v1/session/list
		WaitTime:         d.WaitTime,
		MonitorRetries:   d.MonitorRetries,
		MonitorRetryTime: d.MonitorRetryTime,
		// RenewInterval: SessionTTL/2, set by withDefaults.
	}
}

// withDefaults returns o with its zero fields set.
func (o SemaphoreOptions) withDefaults() SemaphoreOptions {
	d := DefaultSemaphoreOptions()
	if o.SessionTTL == 0 {
		o.SessionTTL = d.SessionTTL
	}
	if o.RenewInterval == 0 {
		o.RenewInterval = o.SessionTTL / 2
	}
	if o.SessionName == "" {
		o.SessionName = d.SessionName
	}
	if o.WaitTime == 0 {
		o.WaitTime = d.WaitTime
	}
	if o.MonitorRetries == 0 {
		o.MonitorRetries = d.MonitorRetries
	}
	if o.MonitorRetryTime == 0 {
		o.MonitorRetryTime = d.MonitorRetryTime
	}
	return o
}

// Validate reports the first invalid field of o, after defaults, as an
// *OptionError.
func (o SemaphoreOptions) Validate() error {
	o = o.withDefaults()
	return validateSession(o.SessionTTL, o.RenewInterval, o.WaitTime, o.MonitorRetryTime)
}

// validateSession checks the fields Options and SemaphoreOptions share.
func validateSession(ttl, renew, wait, monitorRetry time.Duration) error {
	switch {
	case ttl < MinSessionTTL:
		return &OptionError{Field: "SessionTTL", Value: ttl, Err: fmt.Errorf("must be at least %v", MinSessionTTL)}
	case renew <= 0 || renew >= ttl:
		return &OptionError{Field: "RenewInterval", Value: renew, Err: fmt.Errorf("must be positive and shorter than SessionTTL (%v)", ttl)}
	case wait < 0 || wait > MaxWaitTime:
		return &OptionError{Field: "WaitTime", Value: wait, Err: fmt.Errorf("must be between 0 and %v", MaxWaitTime)}
	case monitorRetry < 0:
		return &OptionError{Field: "MonitorRetryTime", Value: monitorRetry, Err: errors.New("must not be negative")}
	}
	return nil
}

// OptionError reports an invalid argument to New or NewSemaphore: an
// options field, the key, the prefix, the limit or the client.
type OptionError struct {
	Field string // the field's name, or "key", "prefix", "limit", "client"
	Value any    // the rejected value, after defaults
	Err   error
}

// Error names the field, the rejected value and why.
func (e *OptionError) Error() string {
	return fmt.Sprintf("musterlock: %s %v: %v", e.Field, e.Value, e.Err)
}

// Unwrap returns the reason, for errors.Is and errors.As.
func (e *OptionError) Unwrap() error { return e.Err }
