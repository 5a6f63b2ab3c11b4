// Package lock is the backend-neutral contract for muster's distributed locks.
//
// A Locker is one holder's handle on one lock key. Backends live in
// subpackages (redislock for Redis); every backend passes the conformance
// suite in locktest, so code written against Locker works unchanged on any
// of them.
//
// A distributed lock is a lease, not a mutex: the network or a paused process
// can make a holder lose it while it still runs. Two things make that safe:
// Lost, which tells the holder to stop, and Token, a fencing token the guarded
// resource compares so that it refuses a write from a holder whose lease has
// since passed to someone else. WithLock wires the first for you; the second
// needs the resource's help (see the package example).
package lock

import (
	"context"
	"errors"
)

// Errors returned by Lockers and WithLock. Backends wrap them with %w; test
// with errors.Is.
var (
	// ErrNotHeld is returned by Unlock when this Locker holds no lock.
	ErrNotHeld = errors.New("lock: not held")

	// ErrHeld is returned by Lock and TryLock when this Locker already holds
	// the lock. A Locker is not re-entrant: locking again would wait on
	// itself until its own lease expired, which renewal prevents.
	ErrHeld = errors.New("lock: already held")

	// ErrLost means the hold's lease was lost before Unlock: renewal failed
	// or the key no longer holds this hold's token (it expired, or someone
	// else overwrote or deleted it). Whatever ran under the lock may have
	// overlapped with another holder.
	ErrLost = errors.New("lock: lease lost")
)

// Locker is one distributed lock on one key, held under a lease that the
// Locker renews in the background while held.
//
// A Locker is one holder. Its methods are safe to call from several
// goroutines (workers typically watch Lost and read Token), but the
// Lock/Unlock pair belongs to one holder goroutine at a time; to contend for
// a key within one process, give each contender its own Locker.
//
// A hold lasts from a successful Lock or TryLock until Unlock, even if its
// lease is lost meanwhile: the holder learns of the loss from Lost and from
// Unlock's error, and must still call Unlock to end the hold.
type Locker interface {
	// Lock blocks until the lock is acquired or ctx ends. ctx bounds only the
	// wait: the hold outlives it and lasts until Unlock. When ctx ends first,
	// Lock returns an error wrapping ctx.Err() and holds nothing. It returns
	// ErrHeld if this Locker already holds the lock, and backend errors
	// (wrapped) without retrying them.
	Lock(ctx context.Context) error

	// TryLock makes one attempt and returns at once: true if the lock is now
	// held, false with a nil error if someone else holds it. ctx bounds the
	// round trip to the backend. It returns ErrHeld if this Locker already
	// holds the lock.
	TryLock(ctx context.Context) (bool, error)

	// Unlock ends the hold and stops renewal; no renewal is sent after it
	// returns. It releases the key only if it still holds this hold's token,
	// so it never frees another holder's lock. It returns ErrNotHeld if there
	// is no hold, and an error wrapping ErrLost if the lease had been lost
	// (the hold ends either way). Any other error means the release could not
	// be confirmed: the hold ends locally and the key frees itself when its
	// lease expires. ctx bounds the release round trip.
	Unlock(ctx context.Context) error

	// Lost returns a channel that is closed when the current hold ends: when
	// its lease is lost, and also at Unlock, so a goroutine waiting on it
	// never leaks. Each hold gets a fresh channel; when there is no hold, Lost
	// returns an already closed channel. To tell a loss from an Unlock, look
	// at Unlock's error (ErrLost) or at Lost before calling Unlock.
	Lost() <-chan struct{}

	// Token returns the fencing token of the current hold, or 0 when there is
	// no hold. Tokens are strictly increasing per key across all holders, in
	// acquisition order: a resource guarded by the lock should remember the
	// largest token it has seen and refuse writes carrying a smaller one.
	Token() uint64
}
