package musterlock

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/musterhq/muster/internal/testagent"
)

// TestWithLockSerialises: goroutines with their own clients run a slow
// read-modify-write of a shared counter through WithLock; none is lost, and
// no session is left behind.
func TestWithLockSerialises(t *testing.T) {
	t.Parallel()
	a := testagent.Start(t)
	const n = 8
	counter := 0
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		c := newClient(t, a)
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
	if got := sessionCount(t, a.Client); got != 0 {
		t.Errorf("%d sessions left", got)
	}
}
