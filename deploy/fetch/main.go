// Command fetch is the few parts of curl that deploy/e2e.sh needs inside the
// FROM-scratch image, where there is no curl: an HTTP request to the
// container's own agent, which works even when the container is cut off
// from every network but loopback (`docker network disconnect`).
//
//	fetch [-X METHOD] [-d BODY] [-m SECONDS] URL
//
// It prints the answer's status code on the first line and the body after
// it, and exits 0 on a 2xx answer, 22 on any other answer (as curl -f), and
// 7 when no answer came (as curl's "failed to connect").
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("fetch", flag.ContinueOnError)
	method := fs.String("X", "GET", "request method")
	data := fs.String("d", "", "request body")
	maxTime := fs.Float64("m", 10, "seconds to wait for the whole answer")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: fetch [-X METHOD] [-d BODY] [-m SECONDS] URL")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(*maxTime*float64(time.Second)))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, *method, fs.Arg(0), strings.NewReader(*data))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 7
	}
	defer resp.Body.Close()
	fmt.Println(resp.StatusCode)
	io.Copy(os.Stdout, resp.Body)
	if resp.StatusCode/100 != 2 {
		return 22
	}
	return 0
}
