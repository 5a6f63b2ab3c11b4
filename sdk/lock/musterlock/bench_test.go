package musterlock

import (
	"testing"

	"github.com/musterhq/muster/internal/testagent"
)

// BenchmarkLockUnlock measures one uncontended hold on a dev agent: session
// create, acquire, release and session destroy (four Raft writes), plus the
// monitor's first read, once per mode.
func BenchmarkLockUnlock(b *testing.B) {
	a := testagent.Start(b)
	for name, mode := range modes {
		b.Run(name, func(b *testing.B) {
			ctx := b.Context()
			l := newLock(b, a, "bench/"+name, Options{Mode: mode})
			for b.Loop() {
				if err := l.Lock(ctx); err != nil {
					b.Fatal(err)
				}
				if err := l.Unlock(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSemaphoreAcquireRelease is the same for a 3-slot semaphore.
func BenchmarkSemaphoreAcquireRelease(b *testing.B) {
	a := testagent.Start(b)
	s := newSemaphore(b, a, "bench/sem", 3)
	ctx := b.Context()
	for b.Loop() {
		if err := s.Acquire(ctx); err != nil {
			b.Fatal(err)
		}
		if err := s.Release(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
