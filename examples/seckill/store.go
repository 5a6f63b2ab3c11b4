package main

import (
	"context"
	"errors"
)

// store holds one run's stock and order count, under a prefix of its own.
// Each child process opens its own (the seed's using (var client = ...)).
// Its methods are safe for concurrent use by the buyers.
//
// The plain methods (Stock, SetStock, IncrOrders) are the seed's
// client.Get, client.Set and client.Incr: each is atomic on its own, and
// nothing makes a sequence of them atomic. The two sell methods are the
// guarded alternatives: SellFenced for a buyer holding a lock, SellTxn for
// one holding none.
type store interface {
	// Reset sets the stock to inventory and the order count and the fence
	// to 0. Only the parent calls it, before the children start.
	Reset(ctx context.Context, inventory int) error

	// Stock reads the stock.
	Stock(ctx context.Context) (int64, error)
	// SetStock writes the stock, whatever it holds now.
	SetStock(ctx context.Context, n int64) error
	// IncrOrders adds one order, atomically, and returns the new count.
	IncrOrders(ctx context.Context) (int64, error)

	// Snapshot reads the stock together with what SellFenced needs to
	// detect a change since (a version, or the value itself).
	Snapshot(ctx context.Context) (snapshot, error)
	// SellFenced sells one item on behalf of a lock holder whose fencing
	// token is token: in one atomic step it checks that the stock is still
	// as seen and that no write with a larger token was accepted, then
	// writes stock-1, records token as the fence, and adds one order. It
	// returns the new order count; errConflict if the stock changed since
	// seen; errFenced if a newer holder has written. See fencedSell for what
	// each check protects against.
	SellFenced(ctx context.Context, seen snapshot, token uint64) (orders int64, err error)

	// SellTxn sells one item without any lock: read, then a conditional
	// write that applies only if nothing changed, retried until it applies
	// or the stock is 0. It returns the stock it sold from and the new order
	// count, or errSoldOut.
	SellTxn(ctx context.Context) (stock, orders int64, err error)

	// SellAdd sells one item in one atomic step with no read: take one from
	// the stock unless it is 0, and add an order. It returns the stock it
	// sold from and the new order count, or errSoldOut.
	SellAdd(ctx context.Context) (stock, orders int64, err error)

	// Orders reads the order count.
	Orders(ctx context.Context) (int64, error)
}

// snapshot is a read of the stock for a later SellFenced.
type snapshot struct {
	Stock      int64
	StockIndex uint64 // muster: the stock key's ModifyIndex; Redis: unused
	Fence      uint64 // the largest token accepted so far
	FenceIndex uint64 // muster: the fence key's ModifyIndex; Redis: unused
}

// Errors of the sell methods.
var (
	// errSoldOut: the stock is 0.
	errSoldOut = errors.New("seckill: sold out")
	// errConflict: the stock changed between the holder's read and its
	// write, so the lock did not keep others out.
	errConflict = errors.New("seckill: stock changed under the lock")
	// errFenced: a holder with a larger fencing token has written, so this
	// holder's lease had passed to someone else.
	errFenced = errors.New("seckill: fenced off by a newer lock holder")
)

// Key names under a run's prefix: the seed's Redis keys.
const (
	keyStock  = "inventoryNum"
	keyOrders = "orderNum"
	keyFence  = "fence" // largest fencing token accepted with a stock write
	keyLock   = "lock"  // the lock of the redis, redis-try and muster modes
)

// runPrefix is where a run's keys live, in muster KV and in Redis alike.
func runPrefix(run string) string { return "seckill/" + run + "/" }
