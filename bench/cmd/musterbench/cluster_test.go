package main

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsCluster(t *testing.T) {
	c, err := parseFlags([]string{"-cluster"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.systems, clusterSystems) || !slices.Equal(c.workloads, clusterWorkloads) || c.failoverRounds != 20 || c.clientRounds != 5 {
		t.Errorf("-cluster defaults: %+v", c)
	}
	for _, args := range [][]string{
		{"-cluster", "-systems=redis"},
		{"-cluster", "-workloads=kv-cas"},
		{"-workloads=failover"},
		{"-cluster", "-failover-rounds=0"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	c, err = parseFlags([]string{"-cluster", "-workloads=failover", "-systems=etcd"}, io.Discard)
	if err != nil || !slices.Equal(c.workloads, []string{"failover"}) || !slices.Equal(c.systems, []string{"etcd"}) {
		t.Errorf("explicit lists: %+v, %v", c, err)
	}
}

func TestPrintClusterGoals(t *testing.T) {
	put := func(system string, v float64) *result {
		r := newResult("kv-put", system, "ops/s", "put")
		r.value = v
		return r
	}
	fo := newResult("failover", "muster", "s", "kill → write")
	fo.lat = latencies{400 * time.Millisecond, 600 * time.Millisecond, 2500 * time.Millisecond}.summarize()
	fo.value = fo.lat.p50.Seconds()
	na := newResult("client-failure", "etcd", "s", "")
	na.skipped = "n/a"
	var b strings.Builder
	printClusterGoals(&b, []*result{put("muster", 3000), put("etcd", 1000), fo, na})
	out := b.String()
	for _, want := range []string{
		"3.00x        ≥2x etcd: met",
		"0.600 s",
		"≤1 s: met",
		"2.500 s",
		"≤2 s: NOT met",
		"not measured",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
