package main

import (
	"encoding/json"
	"strings"
	"testing"

	consul "github.com/hashicorp/consul/api"
)

func TestParseStatCPU(t *testing.T) {
	// Fields 14 and 15 are utime 250 and stime 31; the command name holds
	// a space and a parenthesis.
	stat := "4242 (mus ter) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 31 0 0 20 0 9 0 100 1000000 2000 18446744073709551615\n"
	n, err := parseStatCPU(stat)
	if err != nil || n != 281 {
		t.Fatalf("parseStatCPU = %d, %v; want 281", n, err)
	}
	if _, err := parseStatCPU("4242 (x) S 1 2"); err == nil {
		t.Fatal("short stat line accepted")
	}
}

func TestGoalText(t *testing.T) {
	reg := reference{workload: "reg-dereg", low: 2171, high: 2171, unit: "ops/s", goal: 3}
	if got := goalText(reg, 7000, true); got != "≥6,513 ops/s (3x): met" {
		t.Errorf("rate goal = %q", got)
	}
	if got := goalText(reg, 6000, true); !strings.HasSuffix(got, "NOT met") {
		t.Errorf("rate goal missed = %q", got)
	}
	cpu := reference{workload: "check-cpu", low: 5, high: 5, unit: "% core", goal: 1}
	if got := goalText(cpu, 2.5, true); got != "<5.00 % core: met" {
		t.Errorf("budget = %q", got)
	}
	if got := goalText(cpu, 5, true); !strings.HasSuffix(got, "NOT met") {
		t.Errorf("budget at the limit = %q", got)
	}
	if got := goalText(reference{unit: "ops/s"}, 1, true); got != "" {
		t.Errorf("no goal = %q", got)
	}
}

func TestPrintResultsNotApplicable(t *testing.T) {
	m := newResult("check-cpu", "muster", "% core", "")
	m.value = 1.5
	na := newResult("check-cpu", "etcd", "% core", "")
	na.skipped = "n/a: no peer"
	var b strings.Builder
	printResults(&b, []*result{m, na}, false)
	out := b.String()
	if !strings.Contains(out, "1.50 % core") || !strings.Contains(out, "n/a: no peer") || strings.Contains(out, "FAIL") {
		t.Errorf("output:\n%s", out)
	}
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "check-cpu") && strings.Contains(l, "muster") {
			line = l
		}
	}
	if strings.Contains(line, " 0 ") {
		t.Errorf("latency columns printed for a row without latency: %q", line)
	}
}

func TestCheckEntries(t *testing.T) {
	decode := func(raw []json.RawMessage) []*consul.ServiceEntry {
		es, err := decodeEntries(len(raw), func(i int) []byte { return raw[i] })
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	es := decode(syntheticEntries())
	if err := checkEntries(es); err != nil {
		t.Fatalf("synthetic entries: %v", err)
	}
	if err := checkEntries(es[1:]); err == nil {
		t.Error("999 entries accepted")
	}
	es[3].Checks[0].Status = consul.HealthCritical
	if err := checkEntries(es); err == nil {
		t.Error("a critical check accepted")
	}
	es = decode(syntheticEntries())
	es[7] = es[8]
	if err := checkEntries(es); err == nil {
		t.Error("a duplicate instance accepted")
	}
}
