package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/musterhq/muster/sdk/lock"
)

// buyer is one buyer goroutine of a child process: the seed's
// Task.Run(() => Show(i, ...)). Its fields are immutable; one goroutine
// calls buy.
type buyer struct {
	i     int         // index within its process, from 0 (the seed's i)
	cfg   *config     // never nil
	store store       // shared by the process's buyers; never nil
	mu    *sync.Mutex // the process's lock (--lock local); shared
	// lk is this buyer's own handle on the distributed lock (--lock redis,
	// redis-try, muster), nil in the other modes. Every buyer has its own,
	// as every seed task opened its own client: a lock.Locker is one holder.
	lk lock.Locker
}

// outcome is what one try came to.
type outcome struct {
	ok     bool  // bought one item
	stock  int64 // the stock read before buying (the seed's 库存)
	orders int64 // the order count after buying (the seed's 订单数量)
	// reason says why a try failed when it was not for lack of stock;
	// empty for a plain 抢购失败 (sold out).
	reason string
	err    error // a store or lock error ended the try
	// unlockErr is Unlock's error after a try that held the lock. The try's
	// result stands: the fenced write, not the lock, decided it.
	unlockErr error
}

// Reasons printed after 抢购失败：原因：
const (
	reasonNoLock   = "没有拿到锁"  // TryLock missed (the seed's line)
	reasonLockWait = "等锁超时"   // Lock waited --lock-wait in vain
	reasonLost     = "锁已失效"   // the lease was lost, or a newer holder wrote
	reasonConflict = "库存已被改动" // the stock changed under the lock
)

// buy makes one try, guarded as --lock says.
func (b *buyer) buy(ctx context.Context) outcome {
	switch b.cfg.Lock {
	case modeNone:
		return b.unguarded(ctx)
	case modeLocal:
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.unguarded(ctx)
	case modeTxn:
		return b.sell(ctx, b.store.SellTxn)
	case modeAdd:
		return b.sell(ctx, b.store.SellAdd)
	default:
		return b.locked(ctx)
	}
}

// unguarded is the seed's NormalSecondsKill.Show: read the stock, and if
// some is left write back one less and add an order. Each step is atomic on
// its own; the sequence is not, so buyers that read the same stock all sell
// from it. --work widens the window between the read and the write.
func (b *buyer) unguarded(ctx context.Context) outcome {
	stock, err := b.store.Stock(ctx)
	if err != nil {
		return outcome{err: err}
	}
	if stock <= 0 {
		return outcome{stock: stock}
	}
	pause(ctx, b.cfg.Work)
	if err := b.store.SetStock(ctx, stock-1); err != nil {
		return outcome{stock: stock, err: err}
	}
	orders, err := b.store.IncrOrders(ctx)
	if err != nil {
		return outcome{stock: stock, err: err}
	}
	return outcome{ok: true, stock: stock, orders: orders}
}

// sell sells with one of the store's lock-free sells (SellTxn, SellAdd).
func (b *buyer) sell(ctx context.Context, sell func(context.Context) (stock, orders int64, err error)) outcome {
	stock, orders, err := sell(ctx)
	if errors.Is(err, errSoldOut) {
		return outcome{stock: stock}
	}
	if err != nil {
		return outcome{err: err}
	}
	return outcome{ok: true, stock: stock, orders: orders}
}

// locked takes the distributed lock (blocking, or one TryLock for
// redis-try), sells under it with fencedSell, keeps it --hold longer (the
// seed's Thread.Sleep(300)), and releases it. Every lock mode runs this one
// path against lock.Locker; only the Locker behind it differs.
func (b *buyer) locked(ctx context.Context) outcome {
	if b.cfg.Lock == modeRedisTry {
		ok, err := b.lk.TryLock(ctx)
		if err != nil {
			return outcome{err: err}
		}
		if !ok {
			return outcome{reason: reasonNoLock}
		}
	} else {
		wctx, cancel := context.WithTimeout(ctx, b.cfg.LockWait)
		err := b.lk.Lock(wctx) // wctx bounds the wait only, not the hold
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return outcome{reason: reasonLockWait}
		}
		if err != nil {
			return outcome{err: err}
		}
	}
	o := b.fencedSell(ctx)
	pause(ctx, b.cfg.Hold)
	if err := b.lk.Unlock(context.WithoutCancel(ctx)); err != nil {
		o.unlockErr = err
	}
	return o
}

// fencedSell is the critical section. Three layers guard its write, each
// against something the others miss:
//
//  1. The lock keeps live holders apart: while it works, one buyer at a time
//     reads and writes, so no write is refused and no work is wasted (and
//     muster's lock serves waiters in FIFO order).
//  2. Lost and the fencing token stop a holder whose lease has passed to
//     someone else (a GC pause, a partition, a lease that ran out): it checks
//     Lost before writing, and the store refuses a write whose token is
//     smaller than one it has already accepted (errFenced), which catches
//     the write already on its way when the lease ran out.
//  3. The stock write is conditional on the stock being as read
//     (errConflict): two writes based on the same read can never both
//     apply. That closes the gap the token leaves: a stale holder writing
//     between a newer holder's read and its write passes the token check
//     (the newer holder has not written yet), and without the condition the
//     newer holder would then overwrite it with a stock one too high.
//
// Layer 3 alone would keep the stock right without any lock: it is the txn
// mode. With a working lock it never fires, so the test checks that these
// modes sell the whole stock with no refusals: that is the lock's doing.
func (b *buyer) fencedSell(ctx context.Context) outcome {
	seen, err := b.store.Snapshot(ctx)
	if err != nil {
		return outcome{err: err}
	}
	if seen.Stock <= 0 {
		return outcome{stock: seen.Stock}
	}
	pause(ctx, b.cfg.Work)
	select {
	case <-b.lk.Lost():
		return outcome{stock: seen.Stock, reason: reasonLost}
	default:
	}
	orders, err := b.store.SellFenced(ctx, seen, b.lk.Token())
	switch {
	case errors.Is(err, errFenced):
		return outcome{stock: seen.Stock, reason: reasonLost}
	case errors.Is(err, errConflict):
		return outcome{stock: seen.Stock, reason: reasonConflict}
	case err != nil:
		return outcome{stock: seen.Stock, err: err}
	}
	return outcome{ok: true, stock: seen.Stock, orders: orders}
}

// soldOut reports whether the try found no stock: a --loop buyer stops.
func (o outcome) soldOut() bool { return !o.ok && o.reason == "" && o.err == nil }

// line is the seed's output line for o. numbered puts the buyer's index
// first, as the seed's lock versions do; tid is the OS thread that runs the
// buyer now (the seed's 线程id, a pool thread that many tasks share).
func (o outcome) line(i int, numbered bool, tid int) string {
	prefix := ""
	if numbered {
		prefix = fmt.Sprint(i)
	}
	switch {
	case o.ok:
		return fmt.Sprintf("%s抢购成功*****线程id：%02d,库存：%d,订单数量：%d", prefix, tid, o.stock, o.orders)
	case o.err != nil:
		return fmt.Sprintf("%s抢购失败：原因：%v", prefix, o.err)
	case o.reason != "":
		return fmt.Sprintf("%s抢购失败：原因：%s", prefix, o.reason)
	default:
		return prefix + "抢购失败"
	}
}

// pause sleeps d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
