package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/musterhq/muster/examples/protobench/recordpb"
)

// The seed's sizes for its 15000 records. protobuf-net's output is the same
// bytes as PostList's, so the protobuf size must match to the byte. The
// seed's JSON is 18 bytes a record longer than Go's: its PostInfo class is
// not shown, and evidently had a property the example never set (a null or
// default value that JSON writes out and protobuf omits).
const (
	seedProtoBytes = 389870
	seedJSONBytes  = 1068891
)

func TestSizes(t *testing.T) {
	posts := newPosts(SeedRecords)
	type testcase struct {
		format string
		want   int
	}
	tests := map[string]testcase{
		"protobuf as the seed": {"protobuf", seedProtoBytes},
		// 15000 × len(`{"ID":,"Title":"title","Content":"这是内容"}`) = 48,
		// plus 63890 digits, 14999 commas and the brackets.
		"json without the seed's extra property": {"json", seedJSONBytes - 18*SeedRecords},
	}
	byName := map[string]format{}
	for _, f := range formats(posts) {
		byName[f.name] = f
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			data, err := byName[tc.format].marshal()
			if err != nil {
				t.Fatal(err)
			}
			if len(data) != tc.want {
				t.Errorf("%s: %d bytes, want %d", tc.format, len(data), tc.want)
			}
		})
	}
}

// TestRoundTrip checks that both formats give back the records they were
// given, so the benchmarks time real work.
func TestRoundTrip(t *testing.T) {
	posts := newPosts(SeedRecords)
	data, err := proto.Marshal(toProto(posts))
	if err != nil {
		t.Fatal(err)
	}
	var pl recordpb.PostList
	if err := proto.Unmarshal(data, &pl); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&pl, toProto(posts)) {
		t.Error("protobuf round trip changed the records")
	}

	data, err = json.Marshal(posts)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte(`[{"ID":0,"Title":"title","Content":"这是内容"},{"ID":1,`)) {
		t.Errorf("json starts %s", data[:80])
	}
	var got []Post
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(posts) || got[14999] != posts[14999] {
		t.Errorf("json round trip: %d records, last %+v", len(got), got[len(got)-1])
	}
}

func TestRun(t *testing.T) {
	var out, errOut strings.Builder
	if code := run(nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || lines[0] != "15000 records" ||
		!strings.HasPrefix(lines[2], "protobuf     389870  1.00x") ||
		!strings.HasPrefix(lines[3], "json         798891  2.05x") {
		t.Errorf("table:\n%s", out.String())
	}
	if code := run([]string{"-n", "-1"}, &out, &errOut); code != 2 {
		t.Errorf("-n -1: exit %d, want 2", code)
	}
}

// BenchmarkMarshal times serializing the seed's 15000 records; wire-B is
// the size of the result.
func BenchmarkMarshal(b *testing.B) {
	for _, f := range formats(newPosts(SeedRecords)) {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			var data []byte
			for b.Loop() {
				var err error
				if data, err = f.marshal(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "wire-B")
		})
	}
}

// BenchmarkUnmarshal times decoding the seed's 15000 records into a fresh
// value; wire-B is the size of the input.
func BenchmarkUnmarshal(b *testing.B) {
	for _, f := range formats(newPosts(SeedRecords)) {
		b.Run(f.name, func(b *testing.B) {
			data, err := f.marshal()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.unmarshal(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "wire-B")
		})
	}
}
