package musterlock

import (
	"context"
	"errors"
	"fmt"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
)

// cleanupTimeout bounds the session destroy that follows a failed or
// cancelled acquire, which runs after the caller's context has ended. If it
// fails, the session expires on its own after its TTL.
const cleanupTimeout = 5 * time.Second

// renewRetry is the pause before retrying a renewal that failed (a network
// or server error), if the renewal interval is longer: a lease should not
// be lost to one failed round trip.
const renewRetry = time.Second

// errSessionGone is the loss reason when a renewal finds the session gone:
// destroyed by someone, or expired, or invalidated by a failed health check.
var errSessionGone = errors.New("the session is gone (destroyed, expired or invalidated)")

// sessionSpec is what createSession asks for.
type sessionSpec struct {
	name      string
	ttl       time.Duration
	lockDelay time.Duration
	behavior  string // consul.SessionBehaviorRelease or ...Delete
}

// createSession creates a session and returns its ID.
//
// It writes the body itself rather than through consul's Session().Create,
// which leaves LockDelay out when it is 0 and so gets the server's 15s
// default instead of no delay.
func createSession(ctx context.Context, c *api.Client, s sessionSpec) (string, error) {
	body := map[string]any{
		"Name":      s.name,
		"TTL":       s.ttl.String(),
		"LockDelay": s.lockDelay.String(),
		"Behavior":  s.behavior,
	}
	var out struct{ ID string }
	if _, err := c.Raw().Write("/v1/session/create", body, &out, (&consul.WriteOptions{}).WithContext(ctx)); err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	if out.ID == "" {
		return "", errors.New("create session: the answer has no ID")
	}
	return out.ID, nil
}

// destroySession invalidates a session, which releases (or, with the delete
// behavior, deletes) every key it holds.
func destroySession(ctx context.Context, c *api.Client, id string) error {
	if _, err := c.Session().Destroy(id, (&consul.WriteOptions{}).WithContext(ctx)); err != nil {
		return fmt.Errorf("destroy session: %w", err)
	}
	return nil
}

// renewer keeps one session alive (the seed's 守护, watchdog) from the
// moment it is created until stop, or until the session is lost.
//
// It is consul's Session.RenewPeriodic with a deterministic end: stop
// cancels the renewal in flight and waits for the goroutine, so no renewal
// is sent after stop returns, and it never destroys the session itself (the
// owner does, in order with its release).
type renewer struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine has returned
	// err says why renewal ended on its own: errSessionGone, or the TTL ran
	// out without a successful renewal. nil when stopped. Written before
	// done is closed; read after.
	err error
}

// startRenewer starts renewing session id every interval. created is when
// the create request was sent: the TTL runs from no earlier than that.
func startRenewer(c *api.Client, id string, ttl, interval time.Duration, created time.Time) *renewer {
	ctx, cancel := context.WithCancel(context.Background())
	r := &renewer{cancel: cancel, done: make(chan struct{})}
	go r.run(ctx, c, id, ttl, interval, created)
	return r
}

// run renews until ctx ends or the session is lost. A renewal that fails
// (network, server) is retried after renewRetry while the TTL, counted from
// when the last successful renewal was sent, lasts; the server may keep the
// session a little longer, so this errs on the side of declaring it lost.
func (r *renewer) run(ctx context.Context, c *api.Client, id string, ttl, interval time.Duration, created time.Time) {
	defer close(r.done)
	expires := created.Add(ttl)
	var lastErr error
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !time.Now().Before(expires) {
			if lastErr == nil { // the timer fired late: the process stalled
				r.err = errors.New("the session TTL ran out before the next renewal was due")
			} else {
				r.err = fmt.Errorf("no renewal succeeded within the session TTL: %w", lastErr)
			}
			return
		}
		sent, next := time.Now(), interval
		rctx, cancel := context.WithDeadline(ctx, expires)
		entry, _, err := c.Session().Renew(id, (&consul.WriteOptions{}).WithContext(rctx))
		cancel()
		switch {
		case ctx.Err() != nil:
			return // stopped mid-renewal
		case err != nil:
			lastErr = err
			next = min(interval, renewRetry)
		case entry == nil: // 404: the server no longer knows the session
			r.err = errSessionGone
			return
		default:
			expires = sent.Add(ttl)
		}
		t.Reset(max(0, min(next, time.Until(expires))))
	}
}

// stop ends renewal and waits for the goroutine to return. It may be called
// more than once.
func (r *renewer) stop() {
	r.cancel()
	<-r.done
}

// ended reports whether renewal ended on its own, and why.
func (r *renewer) ended() (bool, error) {
	select {
	case <-r.done:
		return r.err != nil, r.err
	default:
		return false, nil
	}
}

// session is one created session with its renewer.
type session struct {
	id    string
	renew *renewer
}

// newSession creates a session and starts renewing it.
func newSession(ctx context.Context, c *api.Client, s sessionSpec, renewInterval time.Duration) (*session, error) {
	created := time.Now()
	id, err := createSession(ctx, c, s)
	if err != nil {
		return nil, err
	}
	return &session{id: id, renew: startRenewer(c, id, s.ttl, renewInterval, created)}, nil
}

// abandon stops renewal and destroys the session, releasing whatever it
// holds (a grant whose answer never arrived included), with its own time
// bound since ctx has usually ended. A failed destroy is dropped: the
// session expires after its TTL.
func (s *session) abandon(ctx context.Context, c *api.Client) {
	s.renew.stop()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_ = destroySession(dctx, c, s.id)
}

// sleepCtx waits for d or until ctx ends, and reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
