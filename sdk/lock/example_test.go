package lock_test

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/musterhq/muster/sdk/lock"
)

// stock is a resource guarded by a lock. It also checks fencing tokens: it
// refuses a write whose token is older than the newest it has seen, so a
// holder that lost its lease cannot overwrite its successor's work.
type stock struct {
	mu       sync.Mutex
	newest   uint64 // largest fencing token seen
	quantity int
}

var errStaleToken = errors.New("stock: stale fencing token")

func (s *stock) set(token uint64, quantity int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if token < s.newest {
		return fmt.Errorf("%w: %d < %d", errStaleToken, token, s.newest)
	}
	s.newest, s.quantity = token, quantity
	return nil
}

func (s *stock) get() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.quantity
}

// A flash sale: each buyer decrements the stock under the lock, as the
// seed's BlockingLock does. newMemServer stands in for a backend such as
// redislock.
func Example() {
	ctx := context.Background()
	srv := newMemServer()
	inventory := &stock{quantity: 3}

	for buyer := range 5 {
		l := srv.locker("seckill/inventory") // one Locker per holder
		err := lock.WithLock(ctx, l, func(ctx context.Context) error {
			n := inventory.get()
			if n == 0 {
				return errors.New("sold out")
			}
			return inventory.set(l.Token(), n-1)
		})
		if err != nil {
			fmt.Printf("buyer %d: %v\n", buyer, err)
			continue
		}
		fmt.Printf("buyer %d: bought, %d left\n", buyer, inventory.get())
	}
	// Output:
	// buyer 0: bought, 2 left
	// buyer 1: bought, 1 left
	// buyer 2: bought, 0 left
	// buyer 3: sold out
	// buyer 4: sold out
}

// A holder that stalls past its lease loses the lock to the next holder; when
// it wakes, its write carries an older fencing token and the resource
// refuses it, and Unlock reports the loss.
func Example_fencing() {
	ctx := context.Background()
	srv := newMemServer()
	inventory := &stock{quantity: 10}
	slow, fast := srv.locker("seckill/inventory"), srv.locker("seckill/inventory")

	if err := slow.Lock(ctx); err != nil {
		panic(err)
	}
	slowToken := slow.Token()
	slow.loseLease() // simulate a pause longer than the lease (a GC stop, a partition)
	<-slow.Lost()    // a careful holder would stop here

	if err := fast.Lock(ctx); err != nil {
		panic(err)
	}
	fmt.Println("fast:", inventory.set(fast.Token(), 9))
	if err := fast.Unlock(ctx); err != nil {
		panic(err)
	}

	fmt.Println("slow:", inventory.set(slowToken, 9))
	fmt.Println("slow unlock:", slow.Unlock(ctx))
	fmt.Println("quantity:", inventory.get())
	// Output:
	// fast: <nil>
	// slow: stock: stale fencing token: 1 < 2
	// slow unlock: memlock: unlock: lock: lease lost
	// quantity: 9
}
