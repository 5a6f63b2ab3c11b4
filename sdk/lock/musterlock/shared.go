package musterlock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
)

// errSessionClosed is the loss reason of a hold whose shared Session was
// closed while it held the key.
var errSessionClosed = errors.New("the shared session was closed")

// SessionOptions configures a shared Session. A zero field takes the
// default of the Options field of the same name.
type SessionOptions struct {
	// Name names the session; default "musterlock".
	Name string
	// TTL is the session's TTL, at least MinSessionTTL; default 15s.
	TTL time.Duration
	// RenewInterval is how often the session is renewed; default TTL/2.
	RenewInterval time.Duration
	// LockDelay is the session's lock-delay; default none (see
	// Options.LockDelay).
	LockDelay time.Duration
}

// Session is a session that many holds share, as etcd's
// concurrency.Session is shared by its Mutexes: it is created once,
// renewed in the background until Close, and a Lock given it in
// Options.Session acquires and releases with it instead of creating and
// destroying a session of its own for every hold. That saves two Raft
// writes per hold, which is most of the cost of a short critical section.
//
// One session may hold many keys at once, but two Locks on the same key
// must not share a session: the server sees one holder, so the second
// acquire would succeed at once. Give each contender its own Session.
//
// When the session is lost (it expired, was destroyed by someone, or Close
// was called), every hold on it is lost too, and Done is closed. A lost
// Session stays lost: make a new one.
type Session struct {
	c    *api.Client
	s    *session
	once sync.Once
	err  error // Close's result
}

// NewSession creates a session and starts renewing it. ctx bounds the
// create request only.
func NewSession(ctx context.Context, c *api.Client, opts SessionOptions) (*Session, error) {
	if c == nil {
		return nil, &OptionError{Field: "client", Value: c, Err: errors.New("must not be nil")}
	}
	o := Options{SessionTTL: opts.TTL, RenewInterval: opts.RenewInterval, LockDelay: opts.LockDelay, SessionName: opts.Name}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	s, err := newSession(ctx, c, sessionSpec{
		name: o.SessionName, ttl: o.SessionTTL, lockDelay: o.LockDelay,
		behavior: consul.SessionBehaviorRelease,
	}, o.RenewInterval)
	if err != nil {
		return nil, fmt.Errorf("musterlock: new session: %w", err)
	}
	return &Session{c: c, s: s}, nil
}

// ID returns the session's ID.
func (s *Session) ID() string { return s.s.id }

// Done returns a channel closed when the session has ended: lost, or
// closed.
func (s *Session) Done() <-chan struct{} { return s.s.renew.done }

// Err says why the session was lost, nil while it lives or after Close.
func (s *Session) Err() error {
	_, err := s.s.renew.ended()
	return err
}

// Close stops renewal and destroys the session, which releases every key it
// still holds (their Locks see the loss). ctx bounds the destroy; if it
// fails, the session expires after its TTL. Only the first call does
// anything; later ones return its result.
func (s *Session) Close(ctx context.Context) error {
	s.once.Do(func() {
		s.s.renew.stop()
		if err := destroySession(ctx, s.c, s.s.id); err != nil {
			s.err = fmt.Errorf("musterlock: close session: %w", err)
		}
	})
	return s.err
}
