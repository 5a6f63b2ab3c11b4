package redislock

import (
	"errors"
	"fmt"
	"time"
)

// Options configures a Lock. A zero field takes its default from
// DefaultOptions, so Options{} is valid.
type Options struct {
	// Lease is how long the key lives without renewal: the longest a holder
	// that dies without Unlock keeps others out. A held lock is renewed every
	// Lease/3. At least MinLease.
	Lease time.Duration

	// RetryMin and RetryMax bound the wait between attempts in Lock: it starts
	// near RetryMin, doubles per failed attempt up to RetryMax, and is
	// jittered (between half and all of it) so waiters spread out.
	RetryMin time.Duration
	RetryMax time.Duration

	// FenceKey is the counter INCRed, in the same script as the acquire, to
	// number each acquisition: the fencing token. It never expires. Default
	// key + ":fence". On Redis Cluster it must hash to the key's slot: put a
	// hash tag in the key ("{orders}:lock") and the default inherits it.
	FenceKey string
}

// MinLease is the shortest Lease accepted: renewal every Lease/3 must leave
// room for a round trip.
const MinLease = 30 * time.Millisecond

// DefaultOptions returns the defaults that New applies to zero fields.
func DefaultOptions() Options {
	return Options{
		Lease:    10 * time.Second,      // a dead holder blocks the key for at most 10s
		RetryMin: 1 * time.Millisecond,  // first retry after ~1ms
		RetryMax: 50 * time.Millisecond, // waiters poll at least every 50ms
		// FenceKey: key + ":fence", set by New since it depends on the key.
	}
}

// withDefaults returns o with its zero fields set for key.
func (o Options) withDefaults(key string) Options {
	d := DefaultOptions()
	if o.Lease == 0 {
		o.Lease = d.Lease
	}
	if o.RetryMin == 0 {
		o.RetryMin = d.RetryMin
	}
	if o.RetryMax == 0 {
		o.RetryMax = max(d.RetryMax, o.RetryMin)
	}
	if o.FenceKey == "" {
		o.FenceKey = key + ":fence"
	}
	return o
}

// Validate reports the first invalid field of o, after defaults, as an
// *OptionError. New also checks the client, the key, and that FenceKey
// differs from the key.
func (o Options) Validate() error {
	o = o.withDefaults("")
	switch {
	case o.Lease < MinLease:
		return &OptionError{Field: "Lease", Value: o.Lease, Err: fmt.Errorf("must be at least %v", MinLease)}
	case o.RetryMin < 0:
		return &OptionError{Field: "RetryMin", Value: o.RetryMin, Err: errors.New("must not be negative")}
	case o.RetryMax < o.RetryMin:
		return &OptionError{Field: "RetryMax", Value: o.RetryMax, Err: fmt.Errorf("must be at least RetryMin (%v)", o.RetryMin)}
	}
	return nil
}

// OptionError reports an invalid argument to New: an Options field, the key
// or the client.
type OptionError struct {
	Field string // "Lease", "RetryMin", "RetryMax", "FenceKey", "key" or "client"
	Value any    // the rejected value, after defaults
	Err   error
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("redislock: %s %v: %v", e.Field, e.Value, e.Err)
}

func (e *OptionError) Unwrap() error { return e.Err }
