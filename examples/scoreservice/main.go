// Command scoreservice is the course's gRPC ScoreServer ported to Go: it
// serves score.Score/GetScore (every lesson scores 100) and registers itself
// with a muster (or Consul) agent, checked through the standard gRPC health
// service on the same port.
//
//	scoreservice --ip=127.0.0.1 --port=9898 --agent=127.0.0.1:8500
//
// Shutdown drains before it stops. On SIGINT or SIGTERM the health service
// turns NOT_SERVING while the server keeps answering, so the agent's gRPC
// check goes critical and catalog readers (?passing, DNS) drop the
// instance; after --drain the instance deregisters and the server stops,
// letting RPCs in flight finish. A second signal cuts the drain short; the
// instance still deregisters.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/sdk/register"
)

// Shutdown bounds.
const (
	// deregisterTimeout bounds the deregistration at shutdown.
	deregisterTimeout = 5 * time.Second
	// stopTimeout is how long RPCs in flight may run once the server
	// stops accepting; the rest are cut off.
	stopTimeout = 10 * time.Second
)

func main() {
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	os.Exit(run(signals, os.Args[1:], os.Stderr))
}

// config is what the flags say.
type config struct {
	Name          string        // service name in the catalog
	IP            string        // address to listen on and register
	Port          int           // port to listen on and register
	Weight        int           // Weights.Passing and Meta["weight"]
	Agent         string        // agent HTTP address; "" means api.NewClient's default
	CheckInterval time.Duration // how often the agent probes the health service
	Drain         time.Duration // how long NOT_SERVING lasts before deregistering
}

// parseFlags reads args into a config.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("scoreservice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{}
	fs.StringVar(&c.Name, "name", "scoreservice", "service name to register")
	fs.StringVar(&c.IP, "ip", "127.0.0.1", "address to listen on and register (the agent's check dials it)")
	fs.IntVar(&c.Port, "port", 9898, "port to listen on and register")
	fs.IntVar(&c.Weight, "weight", 1, "weight: Weights.Passing and Meta[\"weight\"]")
	fs.StringVar(&c.Agent, "agent", "", "agent HTTP address, host:port or URL (default $MUSTER_HTTP_ADDR, $CONSUL_HTTP_ADDR or "+api.DefaultAddress+")")
	fs.DurationVar(&c.CheckInterval, "check-interval", 10*time.Second, "how often the agent calls grpc.health.v1.Health/Check")
	fs.DurationVar(&c.Drain, "drain", 15*time.Second, "on shutdown, how long to report NOT_SERVING, still serving, before deregistering; keep it above --check-interval plus the 5s check timeout")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	case c.Weight < 1:
		return nil, fmt.Errorf("--weight=%d: must be at least 1", c.Weight)
	case c.CheckInterval <= 0:
		return nil, fmt.Errorf("--check-interval=%s: must be positive", c.CheckInterval)
	case c.Drain < 0:
		return nil, fmt.Errorf("--drain=%s: must not be negative", c.Drain)
	}
	return c, nil
}

// registered is what register.Register returned.
type registered struct {
	reg *register.Registration
	err error
}

// run serves until the first value on signals, registered with the agent
// meanwhile, then drains (see the package doc) and stops. A second value
// on signals ends the drain early. It returns the process exit code.
func run(signals <-chan os.Signal, args []string, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		log.Error("flags", "err", err)
		return 2
	}
	client, err := api.NewClient(&api.Config{Address: c.Agent})
	if err != nil {
		log.Error("agent client", "err", err)
		return 1
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(c.IP, strconv.Itoa(c.Port)))
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	s := newServer(log)
	served := make(chan error, 1)
	go func() { served <- s.serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "weight", c.Weight)

	// Listen first, register second: the agent's first check then finds
	// us. The registration lives on its own context, not the signal's, so
	// that it outlasts the drain.
	regCtx, endRegistration := context.WithCancel(context.Background())
	defer endRegistration()
	regDone := make(chan registered, 1)
	go func() {
		r, err := register.Register(regCtx, client, registration(c), register.Options{Logger: log})
		regDone <- registered{r, err}
	}()

	var reg *register.Registration
	code := 0
	for done := false; !done; {
		select {
		case err := <-served:
			log.Error("serve", "err", err)
			code, done = 1, true
		case r := <-regDone:
			regDone = nil // answered; never select it again
			if r.err != nil {
				log.Error("register", "err", r.err)
				code, done = 1, true
			}
			reg = r.reg
		case sig := <-signals:
			log.Info("shutting down", "signal", sig)
			done = true
		}
	}
	if regDone != nil { // still retrying: stop, but keep a registration that just won
		endRegistration()
		reg = (<-regDone).reg
	}

	s.drain()
	if reg != nil && code == 0 {
		waitDrain(signals, c.Drain, log)
	}
	if reg != nil {
		dctx, cancel := context.WithTimeout(context.Background(), deregisterTimeout)
		if err := reg.Deregister(dctx); err != nil {
			log.Warn("deregister", "err", err)
		}
		cancel()
	}
	s.stop(stopTimeout)
	log.Info("stopped")
	return code
}

// waitDrain waits for d, or until the next value on signals, while the health
// service reports NOT_SERVING and the server still answers.
func waitDrain(signals <-chan os.Signal, d time.Duration, log *slog.Logger) {
	if d <= 0 {
		return
	}
	log.Info("draining: health is NOT_SERVING, still serving; signal again to stop now", "for", d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case sig := <-signals:
		log.Info("drain cut short", "signal", sig)
	}
}
