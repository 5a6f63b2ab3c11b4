// Command userservice is the course's UsersController ported to Go: a small
// HTTP service that registers itself with a muster (or Consul) agent on start
// and deregisters on SIGINT/SIGTERM, the way the seed's ConsulRegist does.
//
//	GET /api/users/all       every user, as JSON; each carries "Instance": "ip:port"
//	GET /api/users/get?id=N  one user, or 404 {"error": "..."}
//	GET /api/health/index    200 "ok"; the agent's HTTP check polls this
//
// Paths match case-insensitively, as in ASP.NET, so the seed's
// /Api/Health/Index works too.
//
// Run three instances with different weights, as the course does:
//
//	userservice --ip=127.0.0.1 --port=5726 --weight=1
//	userservice --urls="http://*:5727" --ip=127.0.0.1 --weight=5
//	userservice --urls=http://127.0.0.1:5728 --weight=10 --agent=127.0.0.1:8500
//
// The registration is retried with backoff until the agent answers, so the
// service may start before its agent (as in deploy/compose.yaml).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/sdk/register"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

// config is what the flags say.
type config struct {
	Name   string // service name in the catalog
	IP     string // address registered with the agent and used by its check
	Port   int    // port registered with the agent
	Listen string // host:port to listen on; IP:Port unless --urls says otherwise
	Weight int    // Weights.Passing, Meta["weight"] and the only tag
	Agent  string // the agent's HTTP address, host:port or a URL
	// ClusterChecks asks muster to run the check while the agent is gone
	// (service Meta muster-check-owner=cluster).
	ClusterChecks bool
}

// instance is how answers name the instance that served them.
func (c *config) instance() string { return net.JoinHostPort(c.IP, strconv.Itoa(c.Port)) }

// parseFlags reads args into a config. The agent address defaults to
// CONSUL_HTTP_ADDR, as in Consul's own tools.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("userservice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	agent := os.Getenv("CONSUL_HTTP_ADDR")
	if agent == "" {
		agent = "127.0.0.1:8500"
	}
	c := &config{}
	fs.StringVar(&c.Name, "name", "UserService", "service name to register")
	fs.StringVar(&c.IP, "ip", "127.0.0.1", "address to register (the agent's check calls it)")
	fs.IntVar(&c.Port, "port", 5726, "port to listen on and register")
	fs.IntVar(&c.Weight, "weight", 1, "weight: Weights.Passing, Meta[\"weight\"] and the tag")
	fs.StringVar(&c.Agent, "agent", agent, "agent HTTP address, host:port or URL; $CONSUL_HTTP_ADDR sets the default")
	fs.BoolVar(&c.ClusterChecks, "cluster-checks", false, "muster only: the cluster runs the check while the agent is down (Meta muster-check-owner=cluster)")
	urls := fs.String("urls", "", `ASP.NET style listen URL, "http://ip:port" or "http://*:port"; overrides --ip and --port`)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if c.Weight < 1 {
		return nil, fmt.Errorf("--weight=%d: must be at least 1", c.Weight)
	}
	c.Listen = c.instance()
	if *urls != "" {
		if err := c.applyURLs(*urls); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// applyURLs takes the listen address from an ASP.NET --urls value. A
// wildcard host ("*", "+", "0.0.0.0") listens on every interface and keeps
// --ip as the registered address; a concrete host replaces --ip.
func (c *config) applyURLs(urls string) error {
	u, err := url.Parse(urls)
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		return fmt.Errorf("--urls=%q: want http://ip:port", urls)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return fmt.Errorf("--urls=%q: bad port: %w", urls, err)
	}
	c.Port = port
	switch host := u.Hostname(); host {
	case "*", "+", "0.0.0.0", "":
		c.Listen = net.JoinHostPort("", u.Port())
	default:
		c.IP = host
		c.Listen = net.JoinHostPort(host, u.Port())
	}
	return nil
}

// run serves until ctx is done, registered with the agent meanwhile. It
// returns the process exit code.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		log.Error("flags", "err", err)
		return 2
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	srv := &http.Server{Handler: newHandler(c.instance(), log), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("serving", "listen", ln.Addr().String(), "instance", c.instance(), "weight", c.Weight)

	// Listen first, register second: the agent's first check then finds us.
	client, err := api.NewClient(&api.Config{Address: c.Agent, Token: os.Getenv("CONSUL_HTTP_TOKEN")})
	if err != nil {
		log.Error("agent client", "err", err)
		return 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		r   *register.Registration
		err error
	}
	registered := make(chan result, 1)
	go func() {
		r, err := register.Register(ctx, client, registration(c), register.Options{Logger: log})
		registered <- result{r, err}
	}()

	code := 0
	var reg *register.Registration
	for done := false; !done; {
		select {
		case err := <-served:
			log.Error("serve", "err", err)
			code, done = 1, true
		case res := <-registered:
			registered = nil // answered; never select it again
			reg = res.r
			if res.err != nil && ctx.Err() == nil {
				log.Error("register", "err", res.err)
				code, done = 1, true
			}
		case <-ctx.Done():
			done = true
		}
	}
	log.Info("shutting down")
	// Deregister before closing the listener, so no client is sent to a
	// closed port by a catalog that still lists us.
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	if registered != nil {
		// Still registering when the signal came: stop retrying. The
		// registration may have succeeded meanwhile; then it deregisters
		// itself now that its context is done, and Deregister waits.
		cancel()
		reg = (<-registered).r
	}
	if reg != nil {
		if err := reg.Deregister(dctx); err != nil {
			log.Warn("deregister", "err", err)
		}
	}
	cancel()
	if err := srv.Shutdown(dctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	return code
}
