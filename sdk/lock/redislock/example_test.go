package redislock_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/musterhq/muster/sdk/lock"
	"github.com/musterhq/muster/sdk/lock/redislock"
)

// The seed's blocking lock (AcquireLock): wait up to three seconds for the
// lock, then sell one item. The wait bound is the context's; the lease is
// separate and renewed while the work runs.
func Example() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()

	l, err := redislock.New(client, "DataLock:akey", redislock.Options{Lease: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()

	err = lock.WithLock(ctx, l, func(ctx context.Context) error {
		// ctx is cancelled if the lease is lost: stop and do not write.
		inventory, err := client.Get(ctx, "inventoryNum").Int()
		if err != nil {
			return err
		}
		if inventory <= 0 {
			return errors.New("sold out")
		}
		if err := client.Set(ctx, "inventoryNum", inventory-1, 0).Err(); err != nil {
			return err
		}
		orders, err := client.Incr(ctx, "orderNum").Result()
		if err != nil {
			return err
		}
		fmt.Printf("bought: inventory %d, orders %d, fencing token %d\n", inventory, orders, l.Token())
		return nil
	})
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Println("no lock within 3s")
	case errors.Is(err, lock.ErrLost):
		fmt.Println("lease lost mid-sale: check the stock")
	case err != nil:
		fmt.Println("not bought:", err)
	}
}

// The seed's non-blocking lock (Add with expiry): one attempt, and whoever
// does not get the lock gives up at once, so some stock can stay unsold.
func ExampleLock_TryLock() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()

	l, err := redislock.New(client, "DataLock:akey", redislock.Options{Lease: 3 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	ok, err := l.TryLock(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if !ok {
		fmt.Println("not bought: no lock")
		return
	}
	defer func() {
		if err := l.Unlock(ctx); err != nil {
			log.Print(err) // wraps lock.ErrLost if the lease ran out meanwhile
		}
	}()
	select {
	case <-l.Lost():
		fmt.Println("lease lost before the sale")
	default:
		fmt.Println("holding the lock with fencing token", l.Token())
	}
}
