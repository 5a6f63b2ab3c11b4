package checks

import (
	"fmt"
	"unicode/utf8"
)

// truncateOutput returns s cut to at most limit bytes (on a rune boundary),
// saying so as Consul's TTL checks do: "<head> ... (captured N of M bytes)".
func truncateOutput(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	n := limit
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%s ... (captured %d of %d bytes)", s[:n], n, len(s))
}

// tailBuffer is an io.Writer that keeps the last limit bytes written to it and
// counts them all. Script checks capture output in one, as Consul does with a
// circular buffer: the end of a script's output usually says what went wrong.
// It is not safe for concurrent use (os/exec writes from one goroutine when
// Stdout and Stderr are the same writer).
type tailBuffer struct {
	limit int
	buf   []byte // the last limit bytes at most
	total int64  // bytes written
}

func newTailBuffer(limit int) *tailBuffer {
	return &tailBuffer{limit: limit, buf: make([]byte, 0, limit)}
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.total += int64(len(p))
	if len(p) >= b.limit {
		b.buf = append(b.buf[:0], p[len(p)-b.limit:]...)
		return len(p), nil
	}
	if drop := len(b.buf) + len(p) - b.limit; drop > 0 {
		b.buf = b.buf[:copy(b.buf, b.buf[drop:])]
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// String returns the kept output, prefixed as Consul does when some was
// dropped: "Captured N of M bytes\n...\n<tail>".
func (b *tailBuffer) String() string {
	if b.total > int64(len(b.buf)) {
		return fmt.Sprintf("Captured %d of %d bytes\n...\n%s", len(b.buf), b.total, b.buf)
	}
	return string(b.buf)
}
