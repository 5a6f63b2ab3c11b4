package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
)

// musterStore keeps the stock, the order count and the fence as decimal
// values of three muster KV keys under the run's prefix.
type musterStore struct {
	c      *api.Client // immutable; never nil
	prefix string      // immutable; ends in "/"
}

var _ store = (*musterStore)(nil)

// verbAdd is muster's txn extension: add Value to the key's integer and
// return the new value, atomically (the seed's client.Incr).
const verbAdd consul.KVOp = "add"

func newMusterStore(c *api.Client, run string) *musterStore {
	return &musterStore{c: c, prefix: runPrefix(run)}
}

func (s *musterStore) key(name string) string { return s.prefix + name }

func (s *musterStore) Reset(ctx context.Context, inventory int) error {
	ops := consul.TxnOps{
		{KV: &consul.KVTxnOp{Verb: consul.KVDeleteTree, Key: s.prefix}},
		{KV: &consul.KVTxnOp{Verb: consul.KVSet, Key: s.key(keyStock), Value: itoa(int64(inventory))}},
		{KV: &consul.KVTxnOp{Verb: consul.KVSet, Key: s.key(keyOrders), Value: itoa(0)}},
		{KV: &consul.KVTxnOp{Verb: consul.KVSet, Key: s.key(keyFence), Value: itoa(0)}},
	}
	if _, err := s.txn(ctx, ops); err != nil {
		return fmt.Errorf("seckill: reset %s: %w", s.prefix, err)
	}
	return nil
}

func (s *musterStore) Stock(ctx context.Context) (int64, error) {
	p, _, err := s.c.KV().Get(s.key(keyStock), (&consul.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("seckill: read stock: %w", err)
	}
	if p == nil {
		return 0, fmt.Errorf("seckill: read stock: no key %s", s.key(keyStock))
	}
	return atoi(p)
}

func (s *musterStore) SetStock(ctx context.Context, n int64) error {
	p := &consul.KVPair{Key: s.key(keyStock), Value: itoa(n)}
	if _, err := s.c.KV().Put(p, (&consul.WriteOptions{}).WithContext(ctx)); err != nil {
		return fmt.Errorf("seckill: write stock: %w", err)
	}
	return nil
}

func (s *musterStore) IncrOrders(ctx context.Context) (int64, error) {
	resp, err := s.txn(ctx, consul.TxnOps{
		{KV: &consul.KVTxnOp{Verb: verbAdd, Key: s.key(keyOrders), Value: itoa(1)}},
	})
	if err != nil {
		return 0, fmt.Errorf("seckill: add an order: %w", err)
	}
	return resultValue(resp, 0)
}

func (s *musterStore) Snapshot(ctx context.Context) (snapshot, error) {
	kv, err := s.read(ctx)
	if err != nil {
		return snapshot{}, err
	}
	stock, fence := kv[keyStock], kv[keyFence]
	return snapshot{Stock: stock.n, StockIndex: stock.index, Fence: uint64(fence.n), FenceIndex: fence.index}, nil
}

// SellFenced is one transaction: a cas of the stock on the index seen, a
// cas of the fence on the index seen (the token check was made on the value
// seen at that index, so the cas makes it atomic with the write), and an add
// to the order count.
func (s *musterStore) SellFenced(ctx context.Context, seen snapshot, token uint64) (int64, error) {
	if seen.Fence > token {
		return 0, errFenced
	}
	resp, err := s.txn(ctx, consul.TxnOps{
		{KV: &consul.KVTxnOp{Verb: consul.KVCAS, Key: s.key(keyStock), Value: itoa(seen.Stock - 1), Index: seen.StockIndex}},
		{KV: &consul.KVTxnOp{Verb: consul.KVCAS, Key: s.key(keyFence), Value: itoa(int64(token)), Index: seen.FenceIndex}},
		{KV: &consul.KVTxnOp{Verb: verbAdd, Key: s.key(keyOrders), Value: itoa(1)}},
	})
	var refused txnRefused
	if errors.As(err, &refused) {
		if refused.opIndex == 1 {
			return 0, errFenced
		}
		return 0, errConflict
	}
	if err != nil {
		return 0, fmt.Errorf("seckill: fenced sell: %w", err)
	}
	return resultValue(resp, 2)
}

// SellTxn reads both keys in one request, then writes both with cas ops on
// the indexes read: the transaction applies only if neither key changed
// since. A refused transaction is retried with a fresh read.
func (s *musterStore) SellTxn(ctx context.Context) (int64, int64, error) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			pause(ctx, conflictBackoff(attempt))
		}
		kv, err := s.read(ctx)
		if err != nil {
			return 0, 0, err
		}
		stock, orders := kv[keyStock], kv[keyOrders]
		if stock.n <= 0 {
			return stock.n, 0, errSoldOut
		}
		_, err = s.txn(ctx, consul.TxnOps{
			{KV: &consul.KVTxnOp{Verb: consul.KVCAS, Key: s.key(keyStock), Value: itoa(stock.n - 1), Index: stock.index}},
			{KV: &consul.KVTxnOp{Verb: consul.KVCAS, Key: s.key(keyOrders), Value: itoa(orders.n + 1), Index: orders.index}},
		})
		if errors.As(err, new(txnRefused)) {
			continue // someone sold first: read again
		}
		if err != nil {
			return 0, 0, fmt.Errorf("seckill: txn sell: %w", err)
		}
		return stock.n, orders.n + 1, nil
	}
}

// SellAdd is one transaction of two add ops, muster's extension: the
// server refuses the whole transaction if the stock would go below zero,
// which is the only way it fails here, so a refusal means sold out.
func (s *musterStore) SellAdd(ctx context.Context) (int64, int64, error) {
	resp, err := s.txn(ctx, consul.TxnOps{
		{KV: &consul.KVTxnOp{Verb: verbAdd, Key: s.key(keyStock), Value: itoa(-1)}},
		{KV: &consul.KVTxnOp{Verb: verbAdd, Key: s.key(keyOrders), Value: itoa(1)}},
	})
	var refused txnRefused
	if errors.As(err, &refused) && refused.opIndex == 0 {
		return 0, 0, errSoldOut
	}
	if err != nil {
		return 0, 0, fmt.Errorf("seckill: add sell: %w", err)
	}
	left, err := resultValue(resp, 0)
	if err != nil {
		return 0, 0, err
	}
	orders, err := resultValue(resp, 1)
	return left + 1, orders, err
}

// conflictBackoff is the pause before retry attempt n (from 1) of a refused
// transaction: jittered, growing up to about 8ms. Without it every refused
// buyer rereads at once and the losers' requests crowd out the winner's.
func conflictBackoff(n int) time.Duration {
	ceil := time.Duration(1<<min(n, 4)) * 500 * time.Microsecond
	return ceil/2 + rand.N(ceil/2)
}

func (s *musterStore) Orders(ctx context.Context) (int64, error) {
	kv, err := s.read(ctx)
	if err != nil {
		return 0, err
	}
	return kv[keyOrders].n, nil
}

// entry is one integer key as read, with its ModifyIndex.
type entry struct {
	n     int64
	index uint64
}

// read gets every key under the prefix in one request (GET ?recurse) and
// returns the integer ones by name.
func (s *musterStore) read(ctx context.Context) (map[string]entry, error) {
	pairs, _, err := s.c.KV().List(s.prefix, (&consul.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("seckill: read %s: %w", s.prefix, err)
	}
	out := make(map[string]entry, len(pairs))
	for _, p := range pairs {
		name := p.Key[len(s.prefix):]
		if name != keyStock && name != keyOrders && name != keyFence {
			continue // the lock key
		}
		n, err := atoi(p)
		if err != nil {
			return nil, err
		}
		out[name] = entry{n: n, index: p.ModifyIndex}
	}
	if _, ok := out[keyStock]; !ok {
		return nil, fmt.Errorf("seckill: read %s: no stock key (was the run reset?)", s.prefix)
	}
	return out, nil
}

// txnRefused is the error of a transaction the server refused because one
// of its checks failed (a cas on a stale index): nothing was written.
type txnRefused struct {
	opIndex int
	what    string
}

func (e txnRefused) Error() string {
	return fmt.Sprintf("seckill: transaction refused at op %d: %s", e.opIndex, e.what)
}

// txn runs ops and returns the response, or txnRefused if the server
// refused them.
func (s *musterStore) txn(ctx context.Context, ops consul.TxnOps) (*consul.TxnResponse, error) {
	ok, resp, _, err := s.c.Txn().Txn(ops, (&consul.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, err
	}
	if !ok {
		if len(resp.Errors) == 0 {
			return nil, txnRefused{opIndex: -1, what: "no reason given"}
		}
		return nil, txnRefused{opIndex: resp.Errors[0].OpIndex, what: resp.Errors[0].What}
	}
	return resp, nil
}

// resultValue is the integer value of result i, which an add op returns.
func resultValue(resp *consul.TxnResponse, i int) (int64, error) {
	if i >= len(resp.Results) || resp.Results[i].KV == nil {
		return 0, fmt.Errorf("seckill: transaction answered %d results, want a KV result at %d", len(resp.Results), i)
	}
	return atoi(resp.Results[i].KV)
}

func itoa(n int64) []byte { return strconv.AppendInt(nil, n, 10) }

func atoi(p *consul.KVPair) (int64, error) {
	n, err := strconv.ParseInt(string(p.Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("seckill: key %s holds %q, not an integer: %w", p.Key, p.Value, err)
	}
	return n, nil
}
