package httpapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/musterhq/muster/internal/state"
)

// respCache keeps the encoded answers of hot reads (a service's health and
// catalog entries), keyed by the store, the request and the result's index:
// every reader woken by the same change, and every poller that asks again
// before the next one, gets the same bytes instead of encoding a large
// answer again (Consul encodes each answer anew; with a thousand instances
// that is megabytes per request). The gzip form is made once too, when a
// client first asks for it.
type respCache struct {
	mu       sync.Mutex
	entries  map[respKey]*respEntry
	order    []respKey // insertion order, for eviction
	max      int       // entries
	maxBytes int       // encoded bytes held, gzip forms included
	bytes    int
}

type respKey struct {
	st    *state.Store // a restore may repeat indexes in a new store
	query string       // path and query, without index and wait
	idx   uint64
	reaps uint64 // KV lists: a tombstone reap can take a list's index back
}

type respEntry struct {
	once sync.Once
	body []byte
	err  error

	gzOnce sync.Once
	gz     []byte

	size int // bytes accounted for this entry; guarded by respCache.mu
}

func newRespCache(max, maxBytes int) *respCache {
	return &respCache{entries: map[respKey]*respEntry{}, max: max, maxBytes: maxBytes}
}

// gzipMin is the smallest answer worth compressing.
const gzipMin = 1400

// answer returns the encoded answer for key, building and encoding it once
// (concurrent callers wait for the first). It gzips the answer when the
// client accepts gzip and the answer is large enough.
func (c *respCache) answer(w http.ResponseWriter, r *http.Request, key respKey, build func() (any, error)) (any, error) {
	if _, pretty := query(r)["pretty"]; pretty {
		return build() // indented by the handler wrapper; rare, not cached
	}
	c.mu.Lock()
	e, ok := c.entries[key]
	if !ok {
		e = &respEntry{}
		c.entries[key] = e
		c.order = append(c.order, key)
	}
	c.mu.Unlock()
	e.once.Do(func() {
		v, err := build()
		if err != nil {
			e.err = err
			return
		}
		e.body, e.err = json.Marshal(v)
		e.body = append(e.body, '\n')
		c.account(key, e, len(e.body))
	})
	if e.err != nil {
		c.forget(key, e)
		return nil, e.err
	}
	w.Header().Set("Vary", "Accept-Encoding")
	if len(e.body) >= gzipMin && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		e.gzOnce.Do(func() {
			var b bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
			zw.Write(e.body)
			zw.Close()
			e.gz = b.Bytes()
			c.account(key, e, len(e.gz))
		})
		w.Header().Set("Content-Encoding", "gzip")
		return rawBody{contentType: "application/json", data: e.gz}, nil
	}
	return rawBody{contentType: "application/json", data: e.body}, nil
}

// account adds n encoded bytes and drops the oldest entries while the cache
// holds too many entries or bytes. A dropped entry's readers keep their
// bytes; later readers encode anew.
func (c *respCache) account(key respKey, e *respEntry, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[key] != e {
		return // dropped meanwhile: its bytes go with its last readers
	}
	e.size += n
	c.bytes += n
	for len(c.order) > 1 && (len(c.order) > c.max || c.bytes > c.maxBytes) {
		old := c.order[0]
		c.order = c.order[1:]
		if oe, ok := c.entries[old]; ok {
			c.bytes -= oe.size
			delete(c.entries, old)
		}
	}
}

// forget drops a failed entry so the next reader tries again.
func (c *respCache) forget(key respKey, e *respEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[key] == e {
		c.bytes -= e.size
		delete(c.entries, key)
		if i := slices.Index(c.order, key); i >= 0 {
			c.order = slices.Delete(c.order, i, i+1)
		}
	}
}

// cacheQuery is the part of a request that decides its answer besides the
// index: the path and every query parameter but index and wait.
func cacheQuery(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return r.URL.Path
	}
	q := url.Values{}
	for k, v := range query(r) {
		if k != "index" && k != "wait" {
			q[k] = v
		}
	}
	return r.URL.Path + "?" + q.Encode()
}
