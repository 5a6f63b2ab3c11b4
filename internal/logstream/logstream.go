// Package logstream tees an agent's log records to live subscribers, for
// GET /v1/agent/monitor. A Handler wraps the agent's own slog.Handler; each
// subscriber gets formatted lines at its own level, and a subscriber that
// reads too slowly loses lines (counted) instead of slowing the agent.
package logstream

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Handler is a slog.Handler that passes records on to next and to the
// subscribers of its hub.
type Handler struct {
	next  slog.Handler
	hub   *hub
	attrs []slog.Attr
	group string
}

type hub struct {
	mu   sync.Mutex
	subs map[*sub]struct{}
}

type sub struct {
	level   slog.Level
	json    bool
	ch      chan string
	dropped int
}

// New wraps next.
func New(next slog.Handler) *Handler {
	return &Handler{next: next, hub: &hub{subs: map[*sub]struct{}{}}}
}

// Subscribe returns a channel of formatted lines at level and above (text,
// or one JSON object per line with asJSON), with room for buf lines, and a
// cancel func that ends the subscription and closes the channel. Lines that
// do not fit are dropped; the next line that fits reports how many.
func (h *Handler) Subscribe(level slog.Level, buf int, asJSON bool) (<-chan string, func()) {
	s := &sub{level: level, json: asJSON, ch: make(chan string, buf)}
	h.hub.mu.Lock()
	h.hub.subs[s] = struct{}{}
	h.hub.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			h.hub.mu.Lock()
			delete(h.hub.subs, s)
			close(s.ch)
			h.hub.mu.Unlock()
		})
	}
}

// Enabled reports whether next or any subscriber wants level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	if h.next.Enabled(ctx, level) {
		return true
	}
	h.hub.mu.Lock()
	defer h.hub.mu.Unlock()
	for s := range h.hub.subs {
		if level >= s.level {
			return true
		}
	}
	return false
}

// Handle passes r to next (if it wants it) and to every subscriber whose
// level it meets.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.next.Enabled(ctx, r.Level) {
		err = h.next.Handle(ctx, r)
	}
	h.hub.mu.Lock()
	defer h.hub.mu.Unlock()
	var text, js string
	for s := range h.hub.subs {
		if r.Level < s.level {
			continue
		}
		var out string
		switch {
		case s.json && js == "":
			js = h.formatJSON(r)
			fallthrough
		case s.json:
			out = js
		case text == "":
			text = h.format(r)
			fallthrough
		default:
			out = text
		}
		if s.dropped > 0 && !s.json {
			out = fmt.Sprintf("%s [WARN] monitor: %d log lines dropped (reader too slow)\n%s", r.Time.Format(time.RFC3339), s.dropped, out)
		}
		select {
		case s.ch <- out:
			s.dropped = 0
		default:
			s.dropped++
		}
	}
	return err
}

// format renders r as one line: time, level, message, then key="value"
// attributes (the handler's own first), qualified by their groups.
func (h *Handler) format(r slog.Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s] %s", r.Time.Format("2006-01-02T15:04:05.000Z07:00"), r.Level, r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%q", a.Key, a.Value.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%q", h.qualify(a.Key), a.Value.String())
		return true
	})
	return b.String()
}

// formatJSON renders r as one JSON object in hclog's shape (@timestamp,
// @level, @message, then the attributes).
func (h *Handler) formatJSON(r slog.Record) string {
	m := map[string]any{
		"@timestamp": r.Time.Format("2006-01-02T15:04:05.000000Z07:00"),
		"@level":     strings.ToLower(r.Level.String()),
		"@message":   r.Message,
	}
	for _, a := range h.attrs {
		m[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		m[h.qualify(a.Key)] = a.Value.String()
		return true
	})
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Sprintf(`{"@message":%q}`, err.Error())
	}
	return string(b)
}

// WithAttrs returns a Handler whose records carry attrs.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(attrs)
	c.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range attrs {
		c.attrs = append(c.attrs, slog.Attr{Key: h.qualify(a.Key), Value: a.Value})
	}
	return &c
}

func (h *Handler) qualify(key string) string {
	if h.group == "" {
		return key
	}
	return h.group + "." + key
}

// WithGroup returns a Handler that qualifies later attributes with name.
func (h *Handler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	if c.group != "" {
		name = c.group + "." + name
	}
	c.group = name
	return &c
}
