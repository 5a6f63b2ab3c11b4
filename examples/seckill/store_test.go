package main

import (
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/musterhq/muster/internal/testagent"
	"github.com/musterhq/muster/internal/testredis"
)

// TestStores checks the guarded writes of both stores against real
// servers: a fenced write is refused for a stale read (errConflict) and for
// a token smaller than one accepted (errFenced), and SellTxn and SellAdd
// sell exactly the stock.
func TestStores(t *testing.T) {
	agent := testagent.Start(t)
	redisAddr := testredis.Start(t) // "" without redis-server: the Redis cases skip

	stores := map[string]func(t *testing.T) store{
		"muster": func(t *testing.T) store { return newMusterStore(agent.Client, "test-"+t.Name()) },
		"redis": func(t *testing.T) store {
			if redisAddr == "" {
				t.Skip("redis-server not on PATH (apt-get install redis-server)")
			}
			c := redis.NewClient(&redis.Options{Addr: redisAddr})
			t.Cleanup(func() { _ = c.Close() })
			return newRedisStore(c, "test-"+t.Name())
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			s := open(t)
			if err := s.Reset(ctx, 5); err != nil {
				t.Fatal(err)
			}

			seen, err := s.Snapshot(ctx)
			if err != nil || seen.Stock != 5 || seen.Fence != 0 {
				t.Fatalf("Snapshot after Reset = %+v, %v; want stock 5, fence 0", seen, err)
			}
			if orders, err := s.SellFenced(ctx, seen, 7); err != nil || orders != 1 {
				t.Fatalf("SellFenced(token 7) = %d, %v; want 1 order", orders, err)
			}
			// A second write on the same read: the lock failed to keep it out.
			if _, err := s.SellFenced(ctx, seen, 8); !errors.Is(err, errConflict) {
				t.Fatalf("SellFenced on a stale read: %v, want errConflict", err)
			}
			seen, err = s.Snapshot(ctx)
			if err != nil || seen.Stock != 4 || seen.Fence != 7 {
				t.Fatalf("Snapshot = %+v, %v; want stock 4, fence 7", seen, err)
			}
			// A holder older than the last writer: its lease had passed on.
			if _, err := s.SellFenced(ctx, seen, 6); !errors.Is(err, errFenced) {
				t.Fatalf("SellFenced(token 6) after token 7: %v, want errFenced", err)
			}
			// The same holder writes again: its token equals the fence.
			if orders, err := s.SellFenced(ctx, seen, 7); err != nil || orders != 2 {
				t.Fatalf("SellFenced(token 7) again = %d, %v; want 2 orders", orders, err)
			}

			for want := int64(3); want > 0; want-- {
				stock, orders, err := s.SellTxn(ctx)
				if err != nil || stock != want || orders != 6-want {
					t.Fatalf("SellTxn = %d, %d, %v; want stock %d before, %d orders", stock, orders, err, want, 6-want)
				}
			}
			if _, _, err := s.SellTxn(ctx); !errors.Is(err, errSoldOut) {
				t.Fatalf("SellTxn on an empty stock: %v, want errSoldOut", err)
			}
			if orders, err := s.Orders(ctx); err != nil || orders != 5 {
				t.Fatalf("Orders = %d, %v; want 5", orders, err)
			}

			if err := s.Reset(ctx, 2); err != nil {
				t.Fatal(err)
			}
			for want := int64(2); want > 0; want-- {
				stock, orders, err := s.SellAdd(ctx)
				if err != nil || stock != want || orders != 3-want {
					t.Fatalf("SellAdd = %d, %d, %v; want stock %d before, %d orders", stock, orders, err, want, 3-want)
				}
			}
			if _, _, err := s.SellAdd(ctx); !errors.Is(err, errSoldOut) {
				t.Fatalf("SellAdd on an empty stock: %v, want errSoldOut", err)
			}
			if stock, err := s.Stock(ctx); err != nil || stock != 0 {
				t.Fatalf("Stock after selling out = %d, %v; want 0", stock, err)
			}
		})
	}
}
