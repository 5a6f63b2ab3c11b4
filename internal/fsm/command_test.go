package fsm

import (
	"bytes"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/musterhq/muster/internal/state"
)

// TestCodecRoundTrip: commands survive encode and decode through the
// pooled codecs, a failed decode leaves nothing behind for the next one,
// and a decoded value never aliases the encoded bytes.
func TestCodecRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("v"), maxPooledBuf+1)
	tests := []struct {
		name string
		in   any
		out  func() any
	}{
		{"kv set", &KVSRequest{Op: state.VerbSet, Entry: state.KVEntry{Key: "a/b", Value: []byte("7"), Flags: 3}},
			func() any { return &KVSRequest{} }},
		{"kv value over the pooled buffer", &KVSRequest{Op: state.VerbSet, Entry: state.KVEntry{Key: "big", Value: big}},
			func() any { return &KVSRequest{} }},
		{"lock wait", &KVSRequest{Op: KVLockWait, Entry: state.KVEntry{Key: "l"}, Session: "s1", Deadline: 42},
			func() any { return &KVSRequest{} }},
		{"txn", &TxnRequest{Ops: []state.TxnOp{{Verb: state.VerbSet, Key: "k", Value: []byte("x")}, {Verb: state.VerbCAS, Key: "k", Index: 9}}},
			func() any { return &TxnRequest{} }},
		{"reap", &ReapRequest{UpTo: 99}, func() any { return &ReapRequest{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := EncodeBody(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			// A garbage body first: its error must not stick to the codec.
			if err := decode([]byte{0xc1}, tt.out()); !errors.Is(err, ErrBadCommand) {
				t.Fatalf("decode(garbage) = %v, want ErrBadCommand", err)
			}
			got := tt.out()
			if err := decode(b, got); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.in) {
				t.Fatalf("round trip: got %+v, want %+v", got, tt.in)
			}
			clear(b)
			if !reflect.DeepEqual(got, tt.in) {
				t.Fatal("the decoded value changed with the encoded bytes: it aliases them")
			}
		})
	}
}

// TestCodecConcurrent encodes and decodes from many goroutines at once:
// each must get its own bytes back (run with -race to see sharing).
func TestCodecConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				in := &KVSRequest{Op: state.VerbSet, Entry: state.KVEntry{Key: "k", Value: bytes.Repeat([]byte{byte(g)}, i)}, Index: uint64(g*1000 + i)}
				b, err := EncodeBody(in)
				if err != nil {
					t.Error(err)
					return
				}
				var out KVSRequest
				if err := decode(b, &out); err != nil || out.Index != in.Index || !bytes.Equal(out.Entry.Value, in.Entry.Value) {
					t.Errorf("goroutine %d op %d: got %+v, %v", g, i, out, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
