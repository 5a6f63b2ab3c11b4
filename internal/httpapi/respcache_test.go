package httpapi

import (
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestRespCache_EncodesOncePerKeyAndStaysWithinBudget(t *testing.T) {
	c := newRespCache(3, 1000)
	var builds atomic.Int32
	get := func(idx uint64, size int) string {
		r := httptest.NewRequest("GET", "/v1/kv/k", nil)
		w := httptest.NewRecorder()
		out, err := c.answer(w, r, respKey{query: "/v1/kv/k", idx: idx}, func() (any, error) {
			builds.Add(1)
			return strings.Repeat("x", size), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return string(out.(rawBody).data)
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); get(1, 10) }()
	}
	wg.Wait()
	if n := builds.Load(); n != 1 {
		t.Fatalf("50 concurrent readers of one index built the answer %d times", n)
	}
	// Three more entries push index 1 out (count limit 3).
	for idx := uint64(2); idx <= 4; idx++ {
		get(idx, 10)
	}
	builds.Store(0)
	get(1, 10)
	if builds.Load() != 1 {
		t.Fatal("index 1 was still cached past the entry limit")
	}
	// One answer over the byte budget is served but does not keep others.
	if body := get(5, 2000); len(body) != 2003 { // quotes and newline
		t.Fatalf("big answer is %d bytes", len(body))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) != 1 || c.bytes > 2003 {
		t.Fatalf("after a big answer: %d entries, %d bytes", len(c.entries), c.bytes)
	}
}
