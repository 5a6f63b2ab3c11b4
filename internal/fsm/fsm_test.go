package fsm

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/musterhq/muster/internal/state"
)

// Two FSMs fed the same log reach byte-identical snapshots: Apply is
// deterministic (time comes only from the entries).
func TestApplyIsDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Unix(1700000000, 0).UnixNano()
	var logs []*raft.Log
	add := func(t MessageType, body any) {
		now += int64(rng.IntN(int(time.Second)))
		data, err := Encode(t, now, body)
		if err != nil {
			panic(err)
		}
		logs = append(logs, &raft.Log{Index: uint64(len(logs) + 1), Type: raft.LogCommand, Data: data})
	}
	add(RegisterRequestType, &RegisterRequest{Node: state.Node{Node: "n1"}, Checks: []*state.HealthCheck{{CheckID: "serfHealth", Status: "passing"}}})
	sessions := []string{"s0", "s1", "s2"}
	for _, id := range sessions {
		add(SessionCreateType, &SessionRequest{Session: &state.Session{ID: id, Node: "n1", LockDelay: time.Second, Behavior: "release"}})
	}
	for i := 0; i < 2000; i++ {
		if i%500 == 499 {
			add(ReapRequestType, &ReapRequest{UpTo: uint64(len(logs) / 2)})
		}
		key := fmt.Sprintf("k%d", rng.IntN(5))
		sess := sessions[rng.IntN(len(sessions))]
		switch rng.IntN(6) {
		case 0:
			add(KVSRequestType, &KVSRequest{Op: state.VerbSet, Entry: state.KVEntry{Key: key, Value: []byte{byte(i)}}})
		case 1:
			add(KVSRequestType, &KVSRequest{Op: state.VerbLock, Entry: state.KVEntry{Key: key}, Session: sess})
		case 2:
			add(KVSRequestType, &KVSRequest{Op: KVLockWait, Entry: state.KVEntry{Key: key}, Session: sess, Deadline: now + int64(rng.IntN(int(3*time.Second)))})
		case 3:
			add(KVSRequestType, &KVSRequest{Op: state.VerbUnlock, Entry: state.KVEntry{Key: key}, Session: sess})
		case 4:
			add(KVSRequestType, &KVSRequest{Op: state.VerbDelete, Entry: state.KVEntry{Key: key}})
		case 5:
			add(SessionDestroyType, &SessionRequest{ID: sess})
			add(SessionCreateType, &SessionRequest{Session: &state.Session{ID: sess, Node: "n1", LockDelay: time.Second, Behavior: "release"}})
		}
	}
	snap := func() []byte {
		f := New()
		for _, l := range logs {
			f.Apply(l)
		}
		s, _ := f.Snapshot()
		var buf bytes.Buffer
		sink := &memSink{Buffer: &buf}
		if err := s.Persist(sink); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a, b := snap(), snap()
	if !bytes.Equal(a, b) {
		t.Fatal("two FSMs fed the same log differ")
	}
	// And a restore of that snapshot reproduces it.
	f := New()
	if err := f.Restore(nopCloser{bytes.NewReader(a)}); err != nil {
		t.Fatal(err)
	}
	s, _ := f.Snapshot()
	var buf bytes.Buffer
	s.Persist(&memSink{Buffer: &buf})
	if !bytes.Equal(a, buf.Bytes()) {
		t.Fatal("snapshot -> restore -> snapshot changed the state")
	}
}

type memSink struct{ *bytes.Buffer }

func (m *memSink) ID() string    { return "mem" }
func (m *memSink) Cancel() error { return nil }
func (m *memSink) Close() error  { return nil }

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
