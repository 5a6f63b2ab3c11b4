package state

import (
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"
)

// fixture applies writes at increasing indexes with a controllable clock.
type fixture struct {
	t   *testing.T
	s   *Store
	idx uint64
	now int64
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, s: New(), now: time.Unix(1000, 0).UnixNano()}
	f.next()
	if err := f.s.EnsureNode(f.idx, f.now, &Node{Node: "n1", Address: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) next() uint64 { f.idx++; return f.idx }

func (f *fixture) session(id string, delay time.Duration, behavior string) {
	f.t.Helper()
	if err := f.s.SessionCreate(f.next(), f.now, &Session{ID: id, Node: "n1", LockDelay: delay, Behavior: behavior}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) holder(key string) string {
	_, e, _ := f.s.KVGet(nil, key)
	if e == nil {
		return ""
	}
	return e.Session
}

func TestLockQueue(t *testing.T) {
	type step func(f *fixture)
	acquire := func(key, sess string, want bool) step {
		return func(f *fixture) {
			res, err := f.s.KVLock(f.next(), f.now, &KVEntry{Key: key}, sess)
			if err != nil || res.Acquired != want {
				f.t.Fatalf("acquire %s by %s: %+v %v, want %v", key, sess, res, err, want)
			}
		}
	}
	wait := func(key, sess string, wantAcquired bool) step {
		return func(f *fixture) {
			res, err := f.s.KVLockWait(f.next(), f.now, &KVEntry{Key: key}, sess, f.now+int64(time.Minute))
			if err != nil || res.Acquired != wantAcquired || res.Queued == wantAcquired {
				f.t.Fatalf("wait %s by %s: %+v %v", key, sess, res, err)
			}
		}
	}
	release := func(key, sess string) step {
		return func(f *fixture) {
			if ok, err := f.s.KVUnlock(f.next(), f.now, &KVEntry{Key: key}, sess); err != nil || !ok {
				f.t.Fatalf("release %s by %s: %v %v", key, sess, ok, err)
			}
		}
	}
	holds := func(key, sess string) step {
		return func(f *fixture) {
			if h := f.holder(key); h != sess {
				f.t.Fatalf("%s held by %q, want %q", key, h, sess)
			}
		}
	}
	destroy := func(sess string) step {
		return func(f *fixture) {
			if err := f.s.SessionDestroy(f.next(), f.now, sess); err != nil {
				f.t.Fatal(err)
			}
		}
	}
	advance := func(d time.Duration) step { return func(f *fixture) { f.now += int64(d) } }

	tests := map[string]struct {
		delay time.Duration
		steps []step
	}{
		"release hands to the first waiter": {steps: []step{
			acquire("k", "a", true), wait("k", "b", false), wait("k", "c", false),
			release("k", "a"), holds("k", "b"), release("k", "b"), holds("k", "c"),
		}},
		"a plain acquire never jumps the queue": {steps: []step{
			acquire("k", "a", true), wait("k", "b", false),
			release("k", "a"), acquire("k", "c", false), holds("k", "b"),
		}},
		"a destroyed waiter is skipped": {steps: []step{
			acquire("k", "a", true), wait("k", "b", false), wait("k", "c", false),
			destroy("b"), release("k", "a"), holds("k", "c"),
		}},
		"an expired waiter is skipped": {steps: []step{
			acquire("k", "a", true), wait("k", "b", false),
			advance(2 * time.Minute), release("k", "a"), holds("k", ""),
		}},
		"invalidation waits out the lock-delay": {delay: time.Second, steps: []step{
			acquire("k", "a", true), wait("k", "b", false), destroy("a"), holds("k", ""),
			acquire("k", "c", false), advance(2 * time.Second), wait("k", "b", true), holds("k", "b"),
		}},
		"release applies no lock-delay": {delay: time.Hour, steps: []step{
			acquire("k", "a", true), release("k", "a"), acquire("k", "b", true),
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			for _, s := range []string{"a", "b", "c"} {
				f.session(s, tc.delay, BehaviorRelease)
			}
			for _, st := range tc.steps {
				st(f)
			}
		})
	}
}

func TestFencingTokensIncrease(t *testing.T) {
	f := newFixture(t)
	f.session("a", 0, BehaviorRelease)
	f.session("b", 0, BehaviorRelease)
	var last uint64
	for i := 0; i < 5; i++ {
		for _, s := range []string{"a", "b"} {
			res, err := f.s.KVLock(f.next(), f.now, &KVEntry{Key: "k"}, s)
			if err != nil || !res.Acquired || res.Entry.FencingToken <= last {
				t.Fatalf("acquire %d by %s: %+v %v (last token %d)", i, s, res, err, last)
			}
			last = res.Entry.FencingToken
			f.s.KVUnlock(f.next(), f.now, &KVEntry{Key: "k"}, s)
		}
	}
}

func TestSessionDeleteBehaviorDeletesKeys(t *testing.T) {
	f := newFixture(t)
	f.session("a", 0, BehaviorDelete)
	f.s.KVLock(f.next(), f.now, &KVEntry{Key: "k", Value: []byte("v")}, "a")
	before, _, _ := f.s.KVGet(nil, "k")
	f.s.SessionDestroy(f.next(), f.now, "a")
	idx, e, _ := f.s.KVGet(nil, "k")
	if e != nil || idx <= before {
		t.Fatalf("key after delete-behavior invalidation: %+v at %d (was %d)", e, idx, before)
	}
}

// A write that changes nothing must not bump indexes (it would wake watchers).
func TestNoOpCatalogWriteWakesNobody(t *testing.T) {
	f := newFixture(t)
	check := &HealthCheck{Node: "n1", CheckID: "c", Status: HealthPassing}
	f.s.EnsureCheck(f.next(), f.now, check)
	idx1, _, _ := f.s.NodeChecks(nil, "n1")
	f.s.EnsureCheck(f.next(), f.now, check)
	f.s.EnsureNode(f.next(), f.now, &Node{Node: "n1", Address: "127.0.0.1"})
	idx2, _, _ := f.s.NodeChecks(nil, "n1")
	if idx1 != idx2 {
		t.Fatalf("no-op writes moved the index %d -> %d", idx1, idx2)
	}
}

func TestReap(t *testing.T) {
	f := newFixture(t)
	f.session("a", time.Second, BehaviorRelease)
	for _, k := range []string{"x", "y"} {
		f.s.KVSet(f.next(), f.now, &KVEntry{Key: k})
		f.s.KVSet(f.next(), f.now, &KVEntry{Key: k})
	}
	f.s.KVLock(f.next(), f.now, &KVEntry{Key: "held"}, "a")
	f.s.SessionDestroy(f.next(), f.now, "a") // leaves a lock-delay on "held"
	delX := f.next()
	f.s.Txn(delX, f.now, []TxnOp{{Verb: VerbDelete, Key: "x"}})
	f.s.Txn(f.next(), f.now, []TxnOp{{Verb: VerbDelete, Key: "y"}})

	n, err := f.s.Reap(f.next(), f.now, delX)
	if err != nil || n != 1 {
		t.Fatalf("reaped %d (%v), want x's tombstone only", n, err)
	}
	if idx, _, _ := f.s.KVGet(nil, "x"); idx != 0 {
		t.Fatalf("x still has tombstone index %d", idx)
	}
	if idx, _, _ := f.s.KVGet(nil, "y"); idx == 0 {
		t.Fatal("y's newer tombstone was reaped")
	}
	if f.s.LockDelayUntil("held", f.now) == 0 {
		t.Fatal("an active lock-delay was reaped")
	}
	f.now += int64(2 * time.Second)
	f.s.Reap(f.next(), f.now, 0)
	tx := f.s.db.Txn(false)
	defer tx.Abort()
	if raw, _ := tx.First(tableLockDelays, "id", "held"); raw != nil {
		t.Fatal("an ended lock-delay was kept")
	}
}

// TestLockWaitWakesOnlyItsWaiter: a handoff fires the watch of the waiter
// it grants the key to, not the watches of the others still queued; a
// holder's invalidation with a lock-delay fires them all (the key is free
// and one of them must ask again after the delay).
func TestLockWaitWakesOnlyItsWaiter(t *testing.T) {
	f := newFixture(t)
	for _, s := range []string{"h", "a", "b"} {
		f.session(s, 0, "")
	}
	f.session("d", time.Second, "")
	if res, err := f.s.KVLock(f.next(), f.now, &KVEntry{Key: "k"}, "h"); err != nil || !res.Acquired {
		t.Fatalf("acquire: %+v %v", res, err)
	}
	for _, s := range []string{"a", "b"} {
		if _, err := f.s.KVLockWait(f.next(), f.now, &KVEntry{Key: "k"}, s, f.now+int64(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	arm := func(session string) memdb.WatchSet {
		ws := memdb.NewWatchSet()
		st, err := f.s.LockWait(ws, "k", session, f.now)
		if err != nil || !st.Queued || !st.SessionLive {
			t.Fatalf("LockWait %s: %+v %v, want queued and live", session, st, err)
		}
		return ws
	}
	fired := func(ws memdb.WatchSet) bool {
		closed := make(chan time.Time)
		close(closed)
		return !ws.Watch(closed)
	}
	wsA, wsB := arm("a"), arm("b")
	if ok, err := f.s.KVUnlock(f.next(), f.now, &KVEntry{Key: "k"}, "h"); err != nil || !ok {
		t.Fatalf("release: %v %v", ok, err)
	}
	if f.holder("k") != "a" {
		t.Fatalf("holder %q, want a", f.holder("k"))
	}
	if !fired(wsA) {
		t.Error("the granted waiter's watch did not fire")
	}
	if fired(wsB) {
		t.Error("the handoff to a woke b, which is still queued")
	}

	// d holds k with a lock-delay; c waits; d's invalidation frees k
	// without a grant, and c must wake to ask after the delay.
	f.session("c", 0, "")
	if ok, err := f.s.KVUnlock(f.next(), f.now, &KVEntry{Key: "k"}, "a"); err != nil || !ok {
		t.Fatalf("release by a: %v %v", ok, err)
	}
	if ok, err := f.s.KVUnlock(f.next(), f.now, &KVEntry{Key: "k"}, "b"); err != nil || !ok {
		t.Fatalf("release by b: %v %v", ok, err)
	}
	if res, err := f.s.KVLock(f.next(), f.now, &KVEntry{Key: "k"}, "d"); err != nil || !res.Acquired {
		t.Fatalf("acquire by d: %+v %v", res, err)
	}
	if _, err := f.s.KVLockWait(f.next(), f.now, &KVEntry{Key: "k"}, "c", f.now+int64(time.Minute)); err != nil {
		t.Fatal(err)
	}
	wsC := arm("c")
	if err := f.s.SessionDestroy(f.next(), f.now, "d"); err != nil {
		t.Fatal(err)
	}
	if !fired(wsC) {
		t.Error("the waiter's watch did not fire when the holder's invalidation started a lock-delay")
	}
	if st, _ := f.s.LockWait(nil, "k", "c", f.now); st.DelayUntil == 0 || !st.Queued {
		t.Errorf("after the invalidation: %+v, want queued with a lock-delay", st)
	}
}
