package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// HeaderFencingToken is the response header carrying an acquisition's
// fencing token.
const HeaderFencingToken = "X-Muster-Fencing-Token"

// Acquisition is the outcome of an acquire.
type Acquisition struct {
	// Acquired is true when the session holds the lock.
	Acquired bool
	// FencingToken is the Raft index of the acquisition, strictly increasing
	// per key: pass it to the guarded resource so it can refuse a write from
	// a holder that has since lost the lock. 0 when not acquired.
	FencingToken uint64
}

// Acquire tries to lock key for session, writing value when it succeeds,
// and returns at once. It is Consul's ?acquire with the fencing token added.
func (c *Client) Acquire(ctx context.Context, key, session string, value []byte) (Acquisition, error) {
	return c.AcquireWait(ctx, key, session, value, 0)
}

// AcquireWait locks key for session, waiting up to wait in the key's FIFO
// queue on the server (muster's fair lock): the release that frees the key
// grants it to the longest waiter in the same step, so there is no polling
// and no thundering herd. It returns when the lock is granted, wait passes
// (Acquired false) or ctx ends (the server then takes the session out of the
// queue). The session must stay alive while waiting.
func (c *Client) AcquireWait(ctx context.Context, key, session string, value []byte, wait time.Duration) (Acquisition, error) {
	q := url.Values{"acquire": {session}}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	u := c.base + "/v1/kv/" + escapeKey(key) + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(value))
	if err != nil {
		return Acquisition{}, fmt.Errorf("api: acquire: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Acquisition{}, fmt.Errorf("api: acquire %q: %w", key, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return Acquisition{}, &StatusError{Code: resp.StatusCode, ErrorCode: resp.Header.Get("X-Muster-Error-Code"), Body: string(bytes.TrimSpace(body))}
	}
	var ok bool
	if err := json.Unmarshal(body, &ok); err != nil {
		return Acquisition{}, fmt.Errorf("api: acquire %q: bad response %q", key, body)
	}
	a := Acquisition{Acquired: ok}
	if ok {
		a.FencingToken, _ = strconv.ParseUint(resp.Header.Get(HeaderFencingToken), 10, 64)
	}
	return a, nil
}

// StatusError is an HTTP error answer from the agent.
type StatusError struct {
	Code      int    // HTTP status
	ErrorCode string // muster's stable error code, empty from Consul
	Body      string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("api: unexpected response code %d (%s)", e.Code, e.Body)
}

// escapeKey escapes each path segment of a key.
func escapeKey(key string) string {
	return (&url.URL{Path: key}).EscapedPath()
}

// Waiter is one session queued for a fair lock (AcquireWait), as muster's
// GET /v1/lock/waiters/<key> shows it.
type Waiter struct {
	Key      string    // the key waited for
	Session  string    // the waiting session
	Position int       // 1 for the first in line of its key
	Since    uint64    // Raft index at which the session joined the queue
	Deadline time.Time // when the waiter gives up unless granted before
}

// LockWaiters returns the sessions queued for key, first in line first
// (empty when nobody waits). It is a muster extension: against a server
// that does not serve it, it returns an error wrapping ErrNotMuster.
func (c *Client) LockWaiters(ctx context.Context, key string) ([]Waiter, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/lock/waiters/"+escapeKey(key), nil)
	if err != nil {
		return nil, fmt.Errorf("api: lock waiters: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("api: lock waiters %q: %w", key, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("api: lock waiters %q: %w", key, ErrNotMuster)
	case resp.StatusCode != http.StatusOK:
		return nil, &StatusError{Code: resp.StatusCode, ErrorCode: resp.Header.Get("X-Muster-Error-Code"), Body: string(bytes.TrimSpace(body))}
	}
	var out []Waiter
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("api: lock waiters %q: bad response: %w", key, err)
	}
	return out, nil
}
