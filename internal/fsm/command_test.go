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
// pooled codecs, a garbage body is a bad command (and the codec that
// refused it decodes the next body), and a decoded value never aliases
// the encoded bytes.
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
			// A garbage body first, on the codec the good one reuses.
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

// TestEncodedBytesAreOwned: an encoding stays intact when the same pooled
// codec encodes something else next (it must be a copy of the pool's
// buffer, not a view of it).
func TestEncodedBytesAreOwned(t *testing.T) {
	x := &KVSRequest{Op: state.VerbSet, Entry: state.KVEntry{Key: "x", Value: []byte("first")}}
	y := &KVSRequest{Op: state.VerbSet, Entry: state.KVEntry{Key: "y", Value: []byte("SECOND")}}
	b1, err := EncodeBody(x)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(b1)
	if _, err := EncodeBody(y); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, want) {
		t.Fatalf("encoding x changed when y was encoded: %q, want %q", b1, want)
	}
	e1, err := Encode(KVSRequestType, 7, x)
	if err != nil {
		t.Fatal(err)
	}
	if got := EncodeRaw(KVSRequestType, 7, want); !bytes.Equal(e1, got) {
		t.Fatalf("Encode = %x, EncodeRaw(EncodeBody) = %x", e1, got)
	}
}

// TestDecodeEmpty: an empty body is a bad command, before and after other
// decodes (a codec must not answer from a previous body).
func TestDecodeEmpty(t *testing.T) {
	b, err := EncodeBody(&ReapRequest{UpTo: 5})
	if err != nil {
		t.Fatal(err)
	}
	for i, body := range [][]byte{nil, {}, b, nil, {}, {0xc1}, nil} {
		var r ReapRequest
		err := decode(body, &r)
		if len(body) == 0 && !errors.Is(err, ErrBadCommand) {
			t.Fatalf("step %d: decode(%v) = %v, %+v; want ErrBadCommand", i, body, err, r)
		}
	}
}

// TestLargeCodecLeavesPool: a codec whose buffer grew past maxPooledBuf is
// not put back, so the next one from the pool is another.
func TestLargeCodecLeavesPool(t *testing.T) {
	c := codecs.Get().(*codecPair)
	c.buf = make([]byte, 0, maxPooledBuf+1)
	c.put()
	if got := codecs.Get().(*codecPair); got == c {
		t.Fatal("a codec with a buffer over maxPooledBuf went back to the pool")
	}
	small := codecs.Get().(*codecPair)
	small.put() // the normal case keeps working
}
