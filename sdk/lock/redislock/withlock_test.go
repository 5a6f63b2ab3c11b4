package redislock

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestWithLockSerialises: goroutines with their own clients run a slow
// read-modify-write of a shared counter through WithLock; none is lost.
func TestWithLockSerialises(t *testing.T) {
	addr := startRedis(t)
	const n = 8
	counter := 0
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		c := newClient(t, addr)
		wg.Go(func() {
			errs <- WithLock(context.Background(), c, "withlock", Options{}, func(context.Context) error {
				v := counter
				time.Sleep(5 * time.Millisecond) // widen the race the lock closes
				counter = v + 1
				return nil
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if counter != n {
		t.Fatalf("counter = %d after %d locked increments", counter, n)
	}
}
