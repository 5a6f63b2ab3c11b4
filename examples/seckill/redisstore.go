package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// redisStore keeps the stock, the order count and the fence as three Redis
// strings under the run's prefix: the seed's inventoryNum and orderNum.
type redisStore struct {
	c      *redis.Client // immutable; never nil
	prefix string        // immutable; ends in "/"
}

var _ store = (*redisStore)(nil)

func newRedisStore(c *redis.Client, run string) *redisStore {
	return &redisStore{c: c, prefix: runPrefix(run)}
}

func (s *redisStore) key(name string) string { return s.prefix + name }

// Reset also deletes the lock key and redislock's fence counter beside it,
// so that a reused --run starts from token 1 with the fence at 0.
func (s *redisStore) Reset(ctx context.Context, inventory int) error {
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.key(keyLock), s.key(keyLock)+":fence")
		p.Set(ctx, s.key(keyStock), inventory, 0)
		p.Set(ctx, s.key(keyOrders), 0, 0)
		p.Set(ctx, s.key(keyFence), 0, 0)
		return nil
	})
	if err != nil {
		return fmt.Errorf("seckill: reset %s: %w", s.prefix, err)
	}
	return nil
}

func (s *redisStore) Stock(ctx context.Context) (int64, error) {
	n, err := s.c.Get(ctx, s.key(keyStock)).Int64()
	if err != nil {
		return 0, fmt.Errorf("seckill: read stock: %w", err)
	}
	return n, nil
}

func (s *redisStore) SetStock(ctx context.Context, n int64) error {
	if err := s.c.Set(ctx, s.key(keyStock), n, 0).Err(); err != nil {
		return fmt.Errorf("seckill: write stock: %w", err)
	}
	return nil
}

func (s *redisStore) IncrOrders(ctx context.Context) (int64, error) {
	n, err := s.c.Incr(ctx, s.key(keyOrders)).Result()
	if err != nil {
		return 0, fmt.Errorf("seckill: add an order: %w", err)
	}
	return n, nil
}

// Snapshot reads the stock and the fence; the fenced sell script compares
// the stock's value, so no version is needed.
func (s *redisStore) Snapshot(ctx context.Context) (snapshot, error) {
	vals, err := s.c.MGet(ctx, s.key(keyStock), s.key(keyFence)).Result()
	if err != nil {
		return snapshot{}, fmt.Errorf("seckill: read stock: %w", err)
	}
	var n [2]int64
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			return snapshot{}, fmt.Errorf("seckill: read stock: key missing (was the run reset?)")
		}
		if n[i], err = strconv.ParseInt(str, 10, 64); err != nil {
			return snapshot{}, fmt.Errorf("seckill: read stock: %w", err)
		}
	}
	return snapshot{Stock: n[0], Fence: uint64(n[1])}, nil
}

// fencedSellScript is SellFenced on Redis: it runs atomically, so its
// comparisons and writes are one step.
// KEYS[1] stock, KEYS[2] fence, KEYS[3] orders; ARGV[1] stock seen,
// ARGV[2] token. Returns the new order count, -1 if the stock changed, -2
// if a larger token was accepted.
var fencedSellScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return -1
end
if tonumber(redis.call('GET', KEYS[2]) or '0') > tonumber(ARGV[2]) then
	return -2
end
redis.call('SET', KEYS[1], tonumber(ARGV[1]) - 1)
redis.call('SET', KEYS[2], ARGV[2])
return redis.call('INCR', KEYS[3])
`)

func (s *redisStore) SellFenced(ctx context.Context, seen snapshot, token uint64) (int64, error) {
	if seen.Fence > token {
		return 0, errFenced
	}
	keys := []string{s.key(keyStock), s.key(keyFence), s.key(keyOrders)}
	n, err := fencedSellScript.Run(ctx, s.c, keys, seen.Stock, token).Int64()
	switch {
	case err != nil:
		return 0, fmt.Errorf("seckill: fenced sell: %w", err)
	case n == -1:
		return 0, errConflict
	case n == -2:
		return 0, errFenced
	}
	return n, nil
}

// txnSellScript is SellTxn on Redis: a script is atomic, so the check and
// both writes need no lock and never conflict.
// KEYS[1] stock, KEYS[2] orders. Returns {stock before, new order count},
// or {stock, -1} when sold out.
var txnSellScript = redis.NewScript(`
local stock = tonumber(redis.call('GET', KEYS[1]))
if stock <= 0 then
	return {stock, -1}
end
redis.call('SET', KEYS[1], stock - 1)
return {stock, redis.call('INCR', KEYS[2])}
`)

func (s *redisStore) SellTxn(ctx context.Context) (int64, int64, error) {
	res, err := txnSellScript.Run(ctx, s.c, []string{s.key(keyStock), s.key(keyOrders)}).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("seckill: txn sell: %w", err)
	}
	if len(res) != 2 {
		return 0, 0, errors.New("seckill: txn sell: script answered " + strconv.Itoa(len(res)) + " values, want 2")
	}
	if res[1] < 0 {
		return res[0], 0, errSoldOut
	}
	return res[0], res[1], nil
}

// SellAdd is SellTxn: on Redis the script already takes one from the stock
// in one atomic step, with no read before it and nothing to retry.
func (s *redisStore) SellAdd(ctx context.Context) (int64, int64, error) { return s.SellTxn(ctx) }

func (s *redisStore) Orders(ctx context.Context) (int64, error) {
	n, err := s.c.Get(ctx, s.key(keyOrders)).Int64()
	if err != nil {
		return 0, fmt.Errorf("seckill: read orders: %w", err)
	}
	return n, nil
}
