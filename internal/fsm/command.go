package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/musterhq/muster/internal/state"
)

// MessageType is the first byte of every Raft log entry muster writes. Values
// are persisted in logs and snapshots: never renumber or reuse one.
type MessageType uint8

const (
	KVSRequestType      MessageType = 1 // KVSRequest -> KVSResponse
	TxnRequestType      MessageType = 2 // TxnRequest -> TxnResponse
	SessionCreateType   MessageType = 3 // SessionRequest -> error
	SessionDestroyType  MessageType = 4 // SessionRequest -> error
	RegisterRequestType MessageType = 5 // RegisterRequest -> error
	ReapRequestType     MessageType = 6 // ReapRequest -> error
	DeregisterType      MessageType = 7 // state.Deregistration -> error
)

// headerLen is the type byte plus the leader's clock reading.
const headerLen = 1 + 8

// ErrBadCommand means a log entry could not be decoded: a bug or a log
// written by an incompatible version.
var ErrBadCommand = errors.New("fsm: bad command")

// msgpackHandle encodes log entry bodies: compact, and values stay raw bytes
// (JSON would base64 them). Field names are kept, so adding a field never
// breaks old entries.
var msgpackHandle = &codec.MsgpackHandle{}

// Encode builds a log entry: the type byte, the proposing leader's clock
// (Unix nanoseconds, so that time-dependent rules such as lock-delay and
// waiter deadlines give the same answer on every server) and the msgpack body.
func Encode(t MessageType, now int64, body any) ([]byte, error) {
	var h [headerLen]byte
	putHeader(h[:], t, now)
	b, err := encode(h[:], body)
	if err != nil {
		return nil, fmt.Errorf("fsm: encode %d: %w", t, err)
	}
	return b, nil
}

// EncodeBody encodes a command body alone, for a non-leader to send to
// the leader (which stamps it with EncodeRaw).
func EncodeBody(body any) ([]byte, error) {
	b, err := encode(nil, body)
	if err != nil {
		return nil, fmt.Errorf("fsm: encode: %w", err)
	}
	return b, nil
}

// EncodeRaw builds a log entry from a body EncodeBody made.
func EncodeRaw(t MessageType, now int64, body []byte) []byte {
	buf := make([]byte, headerLen+len(body))
	putHeader(buf, t, now)
	copy(buf[headerLen:], body)
	return buf
}

func putHeader(b []byte, t MessageType, now int64) {
	b[0] = byte(t)
	binary.BigEndian.PutUint64(b[1:headerLen], uint64(now))
}

// encode returns prefix followed by body's msgpack encoding, in a new
// slice: the one copy out of the pooled codec's buffer.
func encode(prefix []byte, body any) ([]byte, error) {
	c := codecs.Get().(*codecPair)
	defer c.put()
	c.buf = c.buf[:0]
	c.enc.ResetBytes(&c.buf)
	if err := c.enc.Encode(body); err != nil {
		return nil, err
	}
	out := make([]byte, len(prefix)+len(c.buf))
	copy(out, prefix)
	copy(out[len(prefix):], c.buf)
	return out, nil
}

// decode reads a log entry body. Decoded byte slices are copies: v never
// aliases body.
func decode(body []byte, v any) error {
	if len(body) == 0 {
		return fmt.Errorf("%w: empty body", ErrBadCommand)
	}
	c := codecs.Get().(*codecPair)
	defer c.put()
	c.dec.ResetBytes(body)
	if err := c.dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadCommand, err)
	}
	return nil
}

// codecPair is a reusable msgpack encoder, its output buffer and a
// decoder: every write encodes its command once and decodes it once, and
// a fresh codec costs more allocation than the command itself.
type codecPair struct {
	enc *codec.Encoder
	dec *codec.Decoder
	buf []byte
}

// maxPooledBuf bounds the encode buffer a pooled codec keeps: a codec that
// encoded a larger body leaves the pool (its encoder still points at the
// large buffer), so one large value does not stay pinned.
const maxPooledBuf = 64 << 10

var noBytes = []byte{}

var codecs = sync.Pool{New: func() any {
	c := &codecPair{buf: make([]byte, 0, 512)}
	c.enc = codec.NewEncoderBytes(&c.buf, msgpackHandle)
	c.dec = codec.NewDecoderBytes(noBytes, msgpackHandle)
	return c
}}

// put returns c to the pool, unless its buffer grew past maxPooledBuf.
func (c *codecPair) put() {
	if cap(c.buf) > maxPooledBuf {
		return
	}
	c.dec.ResetBytes(noBytes) // drop the reference to the decoded body
	codecs.Put(c)
}

func decodeHeader(data []byte) (MessageType, int64, []byte, error) {
	if len(data) < headerLen {
		return 0, 0, nil, fmt.Errorf("%w: %d bytes", ErrBadCommand, len(data))
	}
	return MessageType(data[0]), int64(binary.BigEndian.Uint64(data[1:headerLen])), data[headerLen:], nil
}

// KV operations of a KVSRequest, beyond the transaction verbs of package
// state (set, cas, lock, unlock, delete, delete-cas, delete-tree).
const (
	KVLockWait   = "lock-wait"   // acquire or join the key's FIFO queue until Deadline
	KVLockUnwait = "lock-unwait" // leave the queue; reports whether the lock is held
)

// KVSRequest is one /v1/kv write.
type KVSRequest struct {
	Op       string
	Entry    state.KVEntry
	Session  string `json:",omitempty"`
	Index    uint64 `json:",omitempty"` // for cas and delete-cas
	Deadline int64  `json:",omitempty"` // lock-wait: until when; lock-unwait: which wait ends (Unix ns)
}

// KVSResponse is the outcome of a KVSRequest. OK is Consul's boolean answer.
type KVSResponse struct {
	OK      bool
	Acquire state.AcquireResult
	Err     error
}

// TxnRequest is a /v1/txn write.
type TxnRequest struct {
	Ops []state.TxnOp
}

// TxnResponse is the outcome of a TxnRequest.
type TxnResponse struct {
	Results []state.TxnResult
	Errors  []state.TxnError
}

// SessionRequest creates (Session set) or destroys (ID set) a session.
type SessionRequest struct {
	Session *state.Session `json:",omitempty"`
	ID      string         `json:",omitempty"`
}

// ReapRequest drops tombstones up to UpTo and ended lock-delays.
type ReapRequest struct {
	UpTo uint64
}

// RegisterRequest registers a node (unless SkipNodeUpdate) and, optionally,
// a service and checks on it.
type RegisterRequest = state.Registration

// DecodeBody decodes what EncodeBody encoded.
func DecodeBody(b []byte, v any) error { return decode(b, v) }
