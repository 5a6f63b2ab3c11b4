// Command protobench is the course's protobuf-vs-JSON comparison: it
// serializes the same 15000 PostInfo records with protobuf and with JSON,
// once each, and prints the size and the time of each step, as the seed's
// Stopwatch code does.
//
//	go run ./examples/protobench
//	go run ./examples/protobench -n 100000
//
// One run measures one cold pass, as the seed did; for numbers worth
// comparing, run the benchmarks:
//
//	go test -bench . ./examples/protobench
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args, runs the comparison once and prints the table to stdout.
// It returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("protobench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", SeedRecords, "number of records")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *n < 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: protobench [-n records]")
		return 2
	}
	results, err := compare(newPosts(*n))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	printTable(stdout, *n, results)
	return 0
}

// result is one format's single pass.
type result struct {
	name               string
	size               int
	marshal, unmarshal time.Duration
}

// compare marshals and unmarshals posts once with each format, timing each
// step on its own (the seed's JSON timing also counted serialization in
// deserialization: it called Start, not Restart).
func compare(posts []Post) ([]result, error) {
	var out []result
	for _, f := range formats(posts) {
		start := time.Now()
		data, err := f.marshal()
		marshal := time.Since(start)
		if err != nil {
			return nil, err
		}
		start = time.Now()
		got, err := f.unmarshal(data)
		unmarshal := time.Since(start)
		if err != nil {
			return nil, err
		}
		if got != len(posts) {
			return nil, fmt.Errorf("protobench: %s: decoded %d records, want %d", f.name, got, len(posts))
		}
		out = append(out, result{name: f.name, size: len(data), marshal: marshal, unmarshal: unmarshal})
	}
	return out, nil
}

// printTable writes the results, with each size relative to the first
// format's (protobuf).
func printTable(w io.Writer, n int, results []result) {
	fmt.Fprintf(w, "%d records\n", n)
	fmt.Fprintf(w, "%-9s %9s %6s %12s %12s\n", "format", "bytes", "size", "marshal", "unmarshal")
	for _, r := range results {
		rel := "-"
		if base := results[0].size; base > 0 {
			rel = fmt.Sprintf("%.2fx", float64(r.size)/float64(base))
		}
		fmt.Fprintf(w, "%-9s %9d %6s %12s %12s\n", r.name, r.size, rel, ms(r.marshal), ms(r.unmarshal))
	}
}

// ms formats d in milliseconds, as the seed printed TotalMilliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
}
