package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
)

// Retry timing of a watch whose query fails. Consul's watch waits 5s times
// the square of the failures in a row, up to 3 minutes; muster's starts
// sooner, so that an agent restart costs a watcher about a second, and
// notices an agent back from a long outage within a minute.
const (
	watchRetryMin = time.Second // after the first failure; doubled after each further one
	watchRetryMax = time.Minute // the cap
)

// watchQuery is one blocking read of a watch's view through c, with q's
// options (WaitIndex among them). It returns the view, whose JSON encoding
// is what the watch delivers, and the read's metadata.
type watchQuery func(c *api.Client, q *consulapi.QueryOptions) (view any, meta *consulapi.QueryMeta, err error)

// watchHandler receives each new view of a watch as compact JSON, with the
// index of the read that returned it. It is called from the watch's
// goroutine, one view at a time: the next read starts after it returns. An
// error ends the watch.
type watchHandler func(ctx context.Context, index uint64, view []byte) error

// watchLoop runs one watch: blocking queries, one after another, each
// waiting for the index of the one before it to move.
type watchLoop struct {
	typ      string        // the watch type, for messages
	query    watchQuery    // never nil
	stale    bool          // let any server answer (QueryOptions.AllowStale)
	handle   watchHandler  // never nil
	log      io.Writer     // where failed reads are reported; never nil
	retryMin time.Duration // pause after the first failed read in a row; > 0
	retryMax time.Duration // cap on the pause; >= retryMin
}

// run delivers the first view at once, then every view that differs from
// the last one delivered, until ctx ends, when it returns nil. A read whose
// index moved but whose view did not change (another key's write, say)
// delivers nothing.
//
// A failed read (the agent down or restarting, no leader, a timeout) is
// reported to w.log and retried after a pause that doubles from w.retryMin
// up to w.retryMax, without delivering; the retry does not block, since the
// agent may have come back with lower indexes, and its view is delivered
// only if it differs from the last one delivered. run returns an error only
// when the handler fails, a view cannot be encoded, or the agent refuses
// the query itself (a 4xx answer other than 429: a bad filter, an unknown
// endpoint), which no retry would mend.
func (w *watchLoop) run(ctx context.Context, c *api.Client) error {
	var (
		index    uint64 // WaitIndex of the next read; 0 answers at once
		last     []byte // the last view delivered; nil before the first
		failures int    // failed reads in a row
	)
	for {
		q := (&consulapi.QueryOptions{AllowStale: w.stale, WaitIndex: index}).WithContext(ctx)
		view, meta, err := w.query(c, q)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if refused(err) {
				return fmt.Errorf("querying muster agent: %w", err)
			}
			failures++
			delay := retryDelay(failures, w.retryMin, w.retryMax)
			fmt.Fprintf(w.log, "Watch (type: %s) errored: %s; retrying in %s\n", w.typ, err, delay)
			index = 0
			sleepCtx(ctx, delay) // the read after it returns at once if ctx ended
			continue
		}
		failures = 0
		if meta.LastIndex < index {
			// The index went backwards (a snapshot restore, a new
			// cluster): start over with a read that answers at once.
			index = 0
		} else {
			index = max(meta.LastIndex, 1) // an index of 0 would never block
		}
		data, err := json.Marshal(view)
		if err != nil {
			return fmt.Errorf("encoding view: %w", err)
		}
		if last != nil && bytes.Equal(data, last) {
			continue
		}
		last = data
		if err := w.handle(ctx, meta.LastIndex, data); err != nil {
			return err
		}
	}
}

// refused reports whether err is the agent refusing the request itself.
func refused(err error) bool {
	var se consulapi.StatusError
	return errors.As(err, &se) && se.Code >= 400 && se.Code < 500 && se.Code != http.StatusTooManyRequests
}

// retryDelay is the pause after the n-th failure in a row (n >= 1): lo,
// doubled n-1 times, at most hi.
func retryDelay(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}
