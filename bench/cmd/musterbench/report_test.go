package main

import (
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var l latencies
	for i := 100; i >= 1; i-- {
		l = append(l, time.Duration(i)*time.Millisecond)
	}
	s := l.summarize()
	if s.n != 100 || s.p50 != 50*time.Millisecond || s.p90 != 90*time.Millisecond || s.p99 != 99*time.Millisecond || s.max != 100*time.Millisecond {
		t.Fatalf("summarize = %+v", s)
	}
	if (latencies{}).summarize() != (summary{}) {
		t.Fatal("empty summary not zero")
	}
}

func TestPrintResultsFailAndRatio(t *testing.T) {
	base := newResult("kv-put", "muster", "ops/s", "put")
	base.value = 2000
	peer := newResult("kv-put", "etcd", "ops/s", "put")
	peer.value = 1000
	peer.check(false, "counter is %d, want %d", 3, 4)
	var b strings.Builder
	printResults(&b, []*result{base, peer}, false)
	out := b.String()
	for _, want := range []string{"2.00x", "FAIL", "1 CHECK(S) FAILED", "FAIL kv-put etcd: counter is 3, want 4"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestReferenceRatio(t *testing.T) {
	r := newResult("lock-handoff", "muster", "acq/s", "wait")
	r.value = 960
	var b strings.Builder
	printReferences(&b, []*result{r}, false)
	if !strings.Contains(b.String(), "1.50-2.04x") {
		t.Errorf("range ratio missing:\n%s", b.String())
	}
}

func TestFmt(t *testing.T) {
	cases := map[string]struct {
		got, want string
	}{
		"thousands": {fmtNum(61644), "61,644"},
		"small":     {fmtNum(12.5), "12.5"},
		"ms":        {fmtDur(1234 * time.Microsecond), "1.23ms"},
		"s":         {fmtDur(5100 * time.Millisecond), "5.10s"},
		"value s":   {fmtValue(0.385, "s"), "0.385 s"},
	}
	for name, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", name, tc.got, tc.want)
		}
	}
}

func TestValueFor(t *testing.T) {
	v := valueFor("bench/put/01/00000002", valueSize)
	if len(v) != valueSize || string(v[:21]) != "bench/put/01/00000002" {
		t.Fatalf("valueFor = %q", v)
	}
	if string(valueFor("a", valueSize)) == string(valueFor("b", valueSize)) {
		t.Fatal("values of distinct keys collide")
	}
}

// inOrder reports the first of wants that s lacks after the previous one
// was found, or "" when s holds them all, in order.
func inOrder(s string, wants ...string) string {
	for _, w := range wants {
		i := strings.Index(s, w)
		if i < 0 {
			return w
		}
		s = s[i+len(w):]
	}
	return ""
}
