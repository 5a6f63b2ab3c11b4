package musterlock_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/sdk/lock"
	"github.com/musterhq/muster/sdk/lock/musterlock"
)

// The seed's blocking lock on muster: wait up to three seconds (in the
// key's fair queue) for the lock, then do the work while the session is
// renewed in the background. Against a Consul agent the same code runs
// Consul's algorithm instead.
func Example() {
	client, err := api.NewClient(nil) // $MUSTER_HTTP_ADDR, $CONSUL_HTTP_ADDR or 127.0.0.1:8500
	if err != nil {
		log.Fatal(err)
	}
	l, err := musterlock.New(client, "locks/inventory", musterlock.Options{Value: []byte("worker-1")})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()

	err = lock.WithLock(ctx, l, func(ctx context.Context) error {
		// ctx is cancelled if the lock is lost: stop, and do not write.
		fmt.Println("holding the lock with fencing token", l.Token())
		return nil
	})
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Println("no lock within 3s")
	case errors.Is(err, lock.ErrLost):
		fmt.Println("lock lost mid-work: check what was done")
	case err != nil:
		fmt.Println("failed:", err)
	}
}

// One attempt, no waiting.
func ExampleLock_TryLock() {
	client, err := api.NewClient(nil)
	if err != nil {
		log.Fatal(err)
	}
	l, err := musterlock.New(client, "locks/report", musterlock.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	ok, err := l.TryLock(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if !ok {
		fmt.Println("someone else is writing the report")
		return
	}
	defer func() {
		if err := l.Unlock(ctx); err != nil {
			log.Print(err) // wraps lock.ErrLost if the lock was lost meanwhile
		}
	}()
	fmt.Println("writing the report")
}

// Pass the fencing token to the guarded resource, which keeps the largest
// token it has seen and refuses writes with a smaller one. Here the
// resource is a KV key updated with check-and-set, so that comparing and
// writing are one step.
func ExampleLock_Token() {
	client, err := api.NewClient(nil)
	if err != nil {
		log.Fatal(err)
	}
	l, err := musterlock.New(client, "locks/ledger", musterlock.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := l.Lock(ctx); err != nil {
		log.Fatal(err)
	}
	defer l.Unlock(ctx)

	// With the token in the write, a holder that was paused past the loss
	// of its lock is refused once the next holder has written.
	fmt.Printf("PUT ledger/entry?cas=<index> {\"token\": %d, ...}\n", l.Token())
}

// A Consul-style semaphore: at most three workers in at once, among all
// processes using the prefix with the same limit.
func ExampleSemaphore() {
	client, err := api.NewClient(nil)
	if err != nil {
		log.Fatal(err)
	}
	sem, err := musterlock.NewSemaphore(client, "semaphores/transcode", 3, musterlock.SemaphoreOptions{})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := sem.Acquire(ctx); err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := sem.Release(ctx); err != nil {
			log.Print(err)
		}
	}()
	select {
	case <-sem.Lost():
		fmt.Println("slot lost: stop")
	default:
		fmt.Println("transcoding in one of three slots")
	}
}
