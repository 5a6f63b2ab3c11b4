package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseStartAt turns --start-at into an instant, relative to now:
//
//	+2s, +500ms        now plus a duration
//	15:04:05, 15:04    that time today (local time); an error if it has passed
//	42                 the next time the clock shows minute 42, second 0
//	                   (the seed's --minute=42: it waits for
//	                   DateTime.Now.Minute == minute)
//	2006-01-02T15:04:05.999999999Z07:00
//	                   an RFC 3339 instant: what the parent hands its children
func parseStartAt(s string, now time.Time) (time.Time, error) {
	bad := func(err error) (time.Time, error) {
		return time.Time{}, fmt.Errorf("seckill: --start-at=%q: %w", s, err)
	}
	if d, ok := strings.CutPrefix(s, "+"); ok {
		dur, err := time.ParseDuration(d)
		if err != nil || dur < 0 {
			return bad(errors.New("want +DURATION, like +2s"))
		}
		return now.Add(dur), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if m, err := strconv.Atoi(s); err == nil {
		if m < 0 || m > 59 {
			return bad(errors.New("a minute is 0..59"))
		}
		t := time.Date(now.Year(), now.Month(), now.Day(), now.Hour(), m, 0, 0, now.Location())
		if !t.After(now) {
			t = t.Add(time.Hour)
		}
		return t, nil
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		clock, err := time.ParseInLocation(layout, s, now.Location())
		if err != nil {
			continue
		}
		t := time.Date(now.Year(), now.Month(), now.Day(), clock.Hour(), clock.Minute(), clock.Second(), 0, now.Location())
		if t.Before(now) {
			return bad(fmt.Errorf("%s has passed (now %s)", t.Format("15:04:05"), now.Format("15:04:05")))
		}
		return t, nil
	}
	return bad(errors.New("want +DURATION, HH:MM:SS, HH:MM or a minute MM"))
}
