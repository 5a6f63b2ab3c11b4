package lock_test

import (
	"context"
	"errors"
	"testing"

	"github.com/musterhq/muster/sdk/lock"
)

// failingUnlock is a memLocker whose Unlock also reports err, as a backend
// whose release round trip failed would.
type failingUnlock struct {
	*memLocker
	err error
}

func (l failingUnlock) Unlock(ctx context.Context) error {
	return errors.Join(l.memLocker.Unlock(ctx), l.err)
}

func TestWithLock(t *testing.T) {
	errFn := errors.New("fn failed")
	errRelease := errors.New("release failed")

	type testcase struct {
		locker  func(t *testing.T, m *memLocker) lock.Locker
		fn      func(ctx context.Context, m *memLocker) error
		ran     bool    // fn ran
		want    []error // the result wraps each of these
		notWant []error // and none of these
	}
	run := func(t *testing.T, tc testcase) {
		m := newMemServer().locker("k")
		l := lock.Locker(m)
		if tc.locker != nil {
			l = tc.locker(t, m)
		}
		ran := false
		err := lock.WithLock(t.Context(), l, func(ctx context.Context) error {
			ran = true
			return tc.fn(ctx, m)
		})
		if ran != tc.ran {
			t.Errorf("fn ran = %v, want %v", ran, tc.ran)
		}
		if len(tc.want) == 0 && err != nil {
			t.Errorf("WithLock = %v, want nil", err)
		}
		for _, w := range tc.want {
			if !errors.Is(err, w) {
				t.Errorf("WithLock = %v, want it to wrap %v", err, w)
			}
		}
		for _, w := range tc.notWant {
			if errors.Is(err, w) {
				t.Errorf("WithLock = %v, want it not to wrap %v", err, w)
			}
		}
		if tc.ran && m.Token() != 0 {
			t.Errorf("still held after WithLock")
		}
	}

	cases := map[string]testcase{
		"ok": {
			fn:  func(context.Context, *memLocker) error { return nil },
			ran: true,
		},
		"fn error": {
			fn:      func(context.Context, *memLocker) error { return errFn },
			ran:     true,
			want:    []error{errFn},
			notWant: []error{lock.ErrLost},
		},
		"lost during fn cancels its context": {
			fn: func(ctx context.Context, m *memLocker) error {
				m.loseLease()
				<-ctx.Done()
				if cause := context.Cause(ctx); !errors.Is(cause, lock.ErrLost) {
					t.Errorf("fn's context cause = %v, want ErrLost", cause)
				}
				return nil
			},
			ran:  true,
			want: []error{lock.ErrLost},
		},
		"lost and fn error": {
			fn: func(ctx context.Context, m *memLocker) error {
				m.loseLease()
				return errFn
			},
			ran:  true,
			want: []error{lock.ErrLost, errFn},
		},
		"unlock error": {
			locker:  func(_ *testing.T, m *memLocker) lock.Locker { return failingUnlock{m, errRelease} },
			fn:      func(context.Context, *memLocker) error { return nil },
			ran:     true,
			want:    []error{errRelease},
			notWant: []error{lock.ErrLost},
		},
		"lock error": {
			locker: func(t *testing.T, m *memLocker) lock.Locker {
				if _, err := m.TryLock(t.Context()); err != nil {
					t.Fatal(err)
				}
				return m // already held: Lock returns ErrHeld
			},
			fn:   func(context.Context, *memLocker) error { return nil },
			want: []error{lock.ErrHeld},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			run(t, tc)
		})
	}
}
