// Command gateway is the course's client: it calls a service by name,
// http://UserService/api/users/all, and lets the SDK pick the instance, the
// way the seed's IConsulDispatcher does, but with one long poll per service
// instead of one registry call per request (sdk/discovery) and balancers
// whose weights apply (sdk/balance).
//
// For each call it prints the seed's line, "This is http://IP:PORT/... Invoke",
// and at the end how many calls each instance answered. With the three
// userservice instances of weights 1, 5 and 10 and the weighted balancer,
// 160 calls split exactly 10 : 50 : 100.
//
//	gateway --requests=160 --balancer=weighted
//	gateway --url=http://UserService/api/users/get?id=2 --balancer=p2c
//
// With --grpc it calls the score service instead, through the gRPC resolver
// (muster:///scoreservice):
//
//	gateway --grpc=scoreservice --requests=30 --balancer=round-robin
//
// An instance that dies keeps no calls: a GET that finds it dead is retried
// on another instance, and the instance leaves the list as soon as its check
// fails. If the agent goes away, the gateway keeps calling the instances it
// already knows.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/sdk/balance"
	"github.com/musterhq/muster/sdk/discovery"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// config is what the flags say.
type config struct {
	Agent    string        // the agent's HTTP address
	URL      string        // the HTTP call, addressed to a service name
	GRPC     string        // service name for gRPC calls; empty: HTTP
	Balancer string        // sdk/balance policy
	Requests int           // calls to make
	Interval time.Duration // pause between calls
	Timeout  time.Duration // bound on each call
	Quiet    bool          // no per-call lines
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Agent, "agent", "", "agent HTTP address (default $MUSTER_HTTP_ADDR, $CONSUL_HTTP_ADDR or 127.0.0.1:8500)")
	fs.StringVar(&c.URL, "url", "http://UserService/api/users/all", "URL to call; its host is the service name")
	fs.StringVar(&c.GRPC, "grpc", "", "call Score.GetScore on this gRPC service instead of --url")
	fs.StringVar(&c.Balancer, "balancer", balance.PolicyWeighted, "round-robin, weighted, random, weighted-random or p2c")
	fs.IntVar(&c.Requests, "requests", 16, "number of calls")
	fs.DurationVar(&c.Interval, "interval", 0, "pause between calls")
	fs.DurationVar(&c.Timeout, "timeout", 5*time.Second, "bound on each call")
	fs.BoolVar(&c.Quiet, "quiet", false, "print only the summary")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.Requests < 1 {
		return nil, fmt.Errorf("--requests=%d: want at least 1", c.Requests)
	}
	if _, err := balance.New(c.Balancer); err != nil {
		return nil, fmt.Errorf("--balancer: %w", err)
	}
	return c, nil
}

// caller makes one call and names the instance that answered.
type caller interface {
	call(ctx context.Context) (instance, line string, err error)
	close()
}

// run makes the calls and prints the summary. It returns the exit code: 0
// when every call succeeded, 1 when some failed, 2 for bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "gateway:", err)
		return 2
	}
	client, err := api.NewClient(&api.Config{Address: c.Agent})
	if err != nil {
		log.Error("agent client", "err", err)
		return 1
	}
	r, err := discovery.NewResolver(client, discovery.Options{Logger: log})
	if err != nil {
		log.Error("resolver", "err", err)
		return 1
	}
	defer r.Close()

	var cl caller
	if c.GRPC != "" {
		cl, err = newGRPCCaller(r, c.GRPC, c.Balancer)
	} else {
		cl = newHTTPCaller(r, c.URL, c.Balancer)
	}
	if err != nil {
		log.Error("client", "err", err)
		return 1
	}
	defer cl.close()

	counts := map[string]int{}
	failed := 0
	for i := 0; i < c.Requests && ctx.Err() == nil; i++ {
		if i > 0 && c.Interval > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(c.Interval):
			}
		}
		cctx, cancel := context.WithTimeout(ctx, c.Timeout)
		inst, line, err := cl.call(cctx)
		cancel()
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "call %d failed: %v\n", i+1, err)
			continue
		}
		counts[inst]++
		if !c.Quiet {
			fmt.Fprintln(stdout, line)
		}
	}
	printSummary(stdout, counts, failed, weights(r, c))
	if failed > 0 {
		return 1
	}
	return 0
}

// weights maps each instance's address to its weight as the balancers see
// it, from the resolver's current list.
func weights(r *discovery.Resolver, c *config) map[string]int {
	service := c.GRPC
	if service == "" {
		service = hostOf(c.URL)
		if !discovery.IsServiceName(service) {
			return nil // a plain host: no instances, no weights
		}
	}
	out := map[string]int{}
	for _, in := range r.Watch(service).Instances() {
		out[in.Addr()] = in.Weight
	}
	return out
}

// printSummary prints one line per instance, in address order:
// calls, share of all calls, and weight.
func printSummary(w io.Writer, counts map[string]int, failed int, weights map[string]int) {
	total := 0
	for _, n := range counts {
		total += n
	}
	addrs := make([]string, 0, len(counts))
	for a := range counts {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	fmt.Fprintf(w, "\n%-22s %6s %7s %6s\n", "INSTANCE", "CALLS", "SHARE", "WEIGHT")
	for _, a := range addrs {
		wt := "-"
		if n, ok := weights[a]; ok {
			wt = fmt.Sprint(n)
		}
		fmt.Fprintf(w, "%-22s %6d %6.1f%% %6s\n", a, counts[a], 100*float64(counts[a])/float64(max(total, 1)), wt)
	}
	fmt.Fprintf(w, "calls=%d failed=%d\n", total, failed)
}

// httpCaller calls one URL through discovery.Transport.
type httpCaller struct {
	url string
	hc  *http.Client
}

func newHTTPCaller(r *discovery.Resolver, url, policy string) *httpCaller {
	return &httpCaller{url: url, hc: &http.Client{Transport: &discovery.Transport{Resolver: r, Policy: policy}}}
}

func (h *httpCaller) call(ctx context.Context) (string, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
	if err != nil {
		return "", "", err
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close() // tells the balancer the call is done
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return "", "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("%s answered %s", resp.Request.URL.Host, resp.Status)
	}
	// The seed's line: the URL the dispatcher chose.
	return resp.Request.URL.Host, fmt.Sprintf("This is %s Invoke", resp.Request.URL), nil
}

func (h *httpCaller) close() { h.hc.CloseIdleConnections() }

// hostOf is the host of a URL, or "" if it does not parse.
func hostOf(raw string) string {
	req, err := http.NewRequest(http.MethodGet, raw, nil)
	if err != nil {
		return ""
	}
	return req.URL.Host
}
