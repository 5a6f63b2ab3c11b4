package lock

import (
	"context"
	"errors"
	"fmt"
)

// WithLock runs fn while holding l: it calls l.Lock(ctx), runs fn, and calls
// l.Unlock whether fn returns, fails or panics (the panic then goes on up).
// It is the seed's ExecuteLocked with lease loss handled.
//
// fn runs in the calling goroutine with a context derived from ctx that is
// also cancelled, with cause ErrLost, as soon as l.Lost is closed; fn should
// stop when it is. Unlock runs with context.WithoutCancel(ctx), so a ctx
// that ends during fn does not leave the key locked until its lease expires.
//
// WithLock returns:
//   - Lock's error if the lock was never acquired (fn did not run);
//   - an error wrapping ErrLost (and fn's error, if any) if the lease was
//     lost while fn ran: fn may have overlapped with another holder;
//   - otherwise fn's error joined with Unlock's. An Unlock error alone means
//     fn ran to completion under the lock; the key frees itself when its
//     lease expires.
func WithLock(ctx context.Context, l Locker, fn func(ctx context.Context) error) (err error) {
	if err := l.Lock(ctx); err != nil {
		return err
	}
	lost := l.Lost()
	fctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		select {
		case <-lost:
			cancel(ErrLost)
		case <-done:
		}
	}()
	defer func() {
		close(done)
		cancel(nil)
		lostDuringFn := isClosed(lost) // Unlock closes it too: look first
		uerr := l.Unlock(context.WithoutCancel(ctx))
		err = withLockResult(err, uerr, lostDuringFn)
	}()
	return fn(fctx)
}

// withLockResult combines fn's error with Unlock's as WithLock documents.
func withLockResult(fnErr, unlockErr error, lostDuringFn bool) error {
	if lostDuringFn || errors.Is(unlockErr, ErrLost) {
		lostErr := unlockErr
		if !errors.Is(lostErr, ErrLost) {
			lostErr = errors.Join(fmt.Errorf("lock: with lock: %w", ErrLost), unlockErr)
		}
		return errors.Join(fnErr, lostErr)
	}
	return errors.Join(fnErr, unlockErr)
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
