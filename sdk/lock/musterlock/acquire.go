package musterlock

import (
	"context"
	"fmt"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/sdk/internal/backoff"
	"github.com/musterhq/muster/sdk/lock"
)

// useFair reports whether Lock should wait in muster's fair queue.
func (l *Lock) useFair() bool {
	switch l.opts.Mode {
	case ModeMuster:
		return true
	case ModeAuto:
		return l.muster.Load()
	}
	return false
}

// acquire blocks until s holds the key and returns the fencing token. It
// runs Consul's algorithm until the server is known to be muster, then
// muster's fair wait. It returns when ctx ends, on a server error, and when
// the session is lost while waiting.
func (l *Lock) acquire(ctx context.Context, s *session) (uint64, error) {
	fails := 0 // plain acquires in a row that failed on a key that looked free
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if gone, err := s.renew.ended(); gone {
			return 0, fmt.Errorf("session lost while waiting: %w", err)
		}
		if l.useFair() {
			return l.waitFair(ctx, s)
		}
		ok, token, err := l.acquireOnce(ctx, s)
		switch {
		case err != nil:
			return 0, err
		case ok:
			return token, nil
		}
		blocked, err := l.waitFree(ctx)
		switch {
		case err != nil:
			return 0, err
		case blocked:
			fails = 0 // it was held and has just been freed: try at once
		default:
			// Free, yet the acquire failed: another session's lock-delay,
			// or someone took and freed it in between. Pause, then retry.
			fails++
			if !sleepCtx(ctx, backoff.Jittered(fails, l.opts.RetryMin, l.opts.RetryMax)) {
				return 0, ctx.Err()
			}
		}
	}
}

// acquireOnce makes one plain ?acquire for s. When it succeeds, the token is
// the server's fencing token on muster (ModeAuto, ModeMuster), and the
// key's ModifyIndex, read back, with Consul's algorithm. A ModeAuto Lock
// that gets a fencing token learns that the server is muster.
func (l *Lock) acquireOnce(ctx context.Context, s *session) (bool, uint64, error) {
	a, err := l.c.Acquire(ctx, l.key, s.id, l.opts.Value)
	if err != nil || !a.Acquired {
		return false, 0, err
	}
	switch {
	case l.opts.Mode != ModeConsul && a.FencingToken != 0:
		if l.opts.Mode == ModeAuto {
			l.muster.Store(true)
		}
		return true, a.FencingToken, nil
	case l.opts.Mode == ModeMuster:
		return false, 0, fmt.Errorf("%w: acquired without a fencing token", api.ErrNotMuster)
	}
	k, _, err := readKey(ctx, l.c, l.key, 0, 0, true)
	switch {
	case err != nil:
		return false, 0, fmt.Errorf("read the fencing token back: %w", err)
	case k == nil || k.Session != s.id:
		return false, 0, fmt.Errorf("%w: the key changed hands before its fencing token was read", lock.ErrLost)
	}
	return true, k.ModifyIndex, nil
}

// waitFree is the waiting half of Consul's algorithm: it reads the key and,
// while another session holds it, blocks on the key's index until it is
// freed. It reports whether it blocked (false: the key was free at the
// first read). A held key that carries a fencing token shows the server is
// muster: a ModeAuto Lock then records that and returns at once, so that
// acquire moves to the fair queue.
func (l *Lock) waitFree(ctx context.Context) (bool, error) {
	var index uint64
	for {
		k, next, err := readKey(ctx, l.c, l.key, index, l.opts.WaitTime, false)
		switch {
		case err != nil:
			return false, fmt.Errorf("wait for the key: %w", err)
		case k == nil || k.Session == "":
			return index != 0, nil
		case l.opts.Mode == ModeAuto && k.FencingToken != 0:
			l.muster.Store(true)
			return true, nil
		}
		index = next
	}
}

// waitFair waits in the key's FIFO queue on muster (api.Client.AcquireWait)
// until s is granted the key, and returns the grant's fencing token. A wait
// that runs out (Options.WaitTime) is followed by another, which rejoins
// the queue at its tail. Cancelling ctx cancels the request, and the server
// then takes s out of the queue.
//
// muster answers false before the wait ends only when the session has been
// invalidated; an early false for a live session means the server ignored
// the wait, so it is not muster.
func (l *Lock) waitFair(ctx context.Context, s *session) (uint64, error) {
	for {
		if gone, err := s.renew.ended(); gone {
			return 0, fmt.Errorf("session lost while waiting: %w", err)
		}
		start := time.Now()
		a, err := l.c.AcquireWait(ctx, l.key, s.id, l.opts.Value, l.opts.WaitTime)
		switch {
		case err != nil:
			return 0, err
		case a.Acquired && a.FencingToken == 0:
			return 0, fmt.Errorf("%w: acquired without a fencing token", api.ErrNotMuster)
		case a.Acquired:
			return a.FencingToken, nil
		case time.Since(start) >= l.opts.WaitTime:
			continue
		}
		e, _, err := l.c.Session().Info(s.id, (&consul.QueryOptions{}).WithContext(ctx))
		switch {
		case err != nil:
			return 0, fmt.Errorf("look up the session after an early answer: %w", err)
		case e == nil:
			return 0, fmt.Errorf("session lost while waiting: %w", errSessionGone)
		}
		return 0, fmt.Errorf("%w: the server answered a fair wait at once", api.ErrNotMuster)
	}
}
