package main

import (
	"testing"
	"time"
)

func TestParseStartAt(t *testing.T) {
	now := time.Date(2026, 12, 4, 13, 42, 30, 0, time.Local)
	type testcase struct {
		in      string
		want    time.Time
		wantErr bool
	}
	tests := map[string]testcase{
		"offset":           {in: "+2s", want: now.Add(2 * time.Second)},
		"offset ms":        {in: "+500ms", want: now.Add(500 * time.Millisecond)},
		"bad offset":       {in: "+soon", wantErr: true},
		"negative offset":  {in: "+-1s", wantErr: true},
		"clock":            {in: "13:45:00", want: now.Add(2*time.Minute + 30*time.Second)},
		"clock no seconds": {in: "14:00", want: now.Add(17*time.Minute + 30*time.Second)},
		"clock passed":     {in: "13:40:00", wantErr: true},
		"minute this hour": {in: "43", want: now.Add(30 * time.Second)},
		"minute next hour": {in: "42", want: now.Add(59*time.Minute + 30*time.Second)},
		"minute too big":   {in: "60", wantErr: true},
		"rfc3339":          {in: "2026-12-04T13:42:31.5Z", want: time.Date(2026, 12, 4, 13, 42, 31, 5e8, time.UTC)},
		"garbage":          {in: "noon", wantErr: true},
	}
	run := func(t *testing.T, tc testcase) {
		got, err := parseStartAt(tc.in, now)
		if tc.wantErr {
			if err == nil {
				t.Fatalf("parseStartAt(%q) = %v, want an error", tc.in, got)
			}
			return
		}
		if err != nil || !got.Equal(tc.want) {
			t.Fatalf("parseStartAt(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

// TestOutcomeLine pins the seed's output lines.
func TestOutcomeLine(t *testing.T) {
	type testcase struct {
		o        outcome
		numbered bool
		want     string
	}
	tests := map[string]testcase{
		"sold":          {outcome{ok: true, stock: 10, orders: 5}, false, "抢购成功*****线程id：07,库存：10,订单数量：5"},
		"sold numbered": {outcome{ok: true, stock: 9, orders: 2}, true, "27抢购成功*****线程id：07,库存：9,订单数量：2"},
		"sold out":      {outcome{}, false, "抢购失败"},
		"numbered":      {outcome{}, true, "27抢购失败"},
		"no lock":       {outcome{reason: reasonNoLock}, true, "27抢购失败：原因：没有拿到锁"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.o.line(27, tc.numbered, 7); got != tc.want {
				t.Errorf("line = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i))
	}
	for p, want := range map[int]time.Duration{50: 100, 99: 198, 100: 200} {
		if got := percentile(d, p); got != want {
			t.Errorf("percentile(1..200, %d) = %d, want %d", p, got, want)
		}
	}
	if got := percentile(d[:1], 99); got != 1 {
		t.Errorf("percentile of one = %d, want 1", got)
	}
}
