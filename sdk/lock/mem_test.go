package lock_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/musterhq/muster/sdk/lock"
	"github.com/musterhq/muster/sdk/lock/locktest"
)

// memLocker is an in-process Locker: the reference implementation of the
// contract that the package's tests and examples run against. Its lease
// never expires on its own; loseLease simulates a loss.
type memLocker struct {
	k *memKey // shared by every memLocker on the key; never nil

	mu    sync.Mutex
	token uint64        // 0 when not held; guarded by mu
	lost  chan struct{} // the current hold's; guarded by mu
}

// memKey is one key of the in-process "server".
type memKey struct {
	sem chan struct{} // capacity 1: full while someone holds the key

	mu    sync.Mutex
	fence uint64 // last token handed out; guarded by mu
	owner *memLocker
}

type memServer struct {
	mu   sync.Mutex
	keys map[string]*memKey
}

func newMemServer() *memServer { return &memServer{keys: make(map[string]*memKey)} }

func (s *memServer) locker(key string) *memLocker {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[key]
	if k == nil {
		k = &memKey{sem: make(chan struct{}, 1)}
		s.keys[key] = k
	}
	return &memLocker{k: k}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (l *memLocker) Lock(ctx context.Context) error {
	if l.Token() != 0 {
		return lock.ErrHeld
	}
	select {
	case l.k.sem <- struct{}{}:
		l.acquired()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("memlock: lock: %w", ctx.Err())
	}
}

func (l *memLocker) TryLock(ctx context.Context) (bool, error) {
	if l.Token() != 0 {
		return false, lock.ErrHeld
	}
	select {
	case l.k.sem <- struct{}{}:
		l.acquired()
		return true, nil
	default:
		return false, nil
	}
}

func (l *memLocker) acquired() {
	l.k.mu.Lock()
	l.k.fence++
	l.k.owner = l
	tok := l.k.fence
	l.k.mu.Unlock()

	l.mu.Lock()
	l.token, l.lost = tok, make(chan struct{})
	l.mu.Unlock()
}

func (l *memLocker) Unlock(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.token == 0 {
		return lock.ErrNotHeld
	}
	l.token = 0
	wasLost := locktest.IsClosed(l.lost)
	if !wasLost {
		close(l.lost)
	}
	l.k.mu.Lock()
	ours := l.k.owner == l
	if ours {
		l.k.owner = nil
	}
	l.k.mu.Unlock()
	if ours {
		<-l.k.sem
	}
	if wasLost {
		return fmt.Errorf("memlock: unlock: %w", lock.ErrLost)
	}
	return nil
}

// loseLease simulates a lost lease: the key is freed for others and Lost
// closes, but the hold lasts until Unlock, as the contract says.
func (l *memLocker) loseLease() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.k.mu.Lock()
	ours := l.k.owner == l
	if ours {
		l.k.owner = nil
	}
	l.k.mu.Unlock()
	if ours {
		close(l.lost)
		<-l.k.sem
	}
}

func (l *memLocker) Lost() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.token == 0 {
		return closedChan
	}
	return l.lost
}

func (l *memLocker) Token() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.token
}

// TestMemLockerConformance checks the suite against the reference
// implementation, so a suite failure on a real backend is the backend's.
func TestMemLockerConformance(t *testing.T) {
	srv := newMemServer()
	locktest.Run(t, func(t *testing.T, key string) lock.Locker {
		return srv.locker(key)
	})
}
