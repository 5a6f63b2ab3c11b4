package state

import (
	"testing"
	"time"
)

// TxnRefusal's dry run evaluates time-dependent rules (lock-delay, waiter
// deadlines) with the HTTP handler's clock, read before the entry is stamped
// by the leader. A transaction whose check only passes after one of its own
// writes (here lock then check-session) is refused with 409 when its lock
// would succeed at the FSM's later clock. Narrow window (the time between
// refusal check and proposal), but the refusal is not "bound to fail".
func TestRegression_TxnRefusalUsesEarlierClockThanFSM(t *testing.T) {
	f := newFixture(t)
	f.session("a", 100*time.Millisecond, BehaviorRelease)
	f.session("b", 0, BehaviorRelease)
	if res, err := f.s.KVLock(f.next(), f.now, &KVEntry{Key: "k"}, "a"); err != nil || !res.Acquired {
		t.Fatal(res, err)
	}
	if err := f.s.SessionDestroy(f.next(), f.now, "a"); err != nil {
		t.Fatal(err)
	}
	until := f.now + int64(100*time.Millisecond)
	ops := []TxnOp{{Verb: VerbLock, Key: "k", Session: "b"}, {Verb: VerbCheckSession, Key: "k", Session: "b"}}
	refused := f.s.TxnRefusal(until-1, ops)    // handler clock, just before the delay ends
	_, errs := f.s.Txn(f.next(), until+1, ops) // leader's stamp, just after
	if len(refused) > 0 && len(errs) == 0 {
		t.Fatalf("refused locally (%v) a txn the FSM applied", refused)
	}
}
