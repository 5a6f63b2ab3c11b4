package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/musterhq/muster/internal/agent"
	"github.com/musterhq/muster/internal/config"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// agentFlags parses `muster agent` flags into a config: defaults, then
// -dev, then config files in order, then the other flags (flags win, as in
// Consul). It returns the unknown config keys to warn about.
func agentFlags(args []string, ui *UI) (*config.Config, []string, error) {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(ui.Err)
	var (
		dev             = fs.Bool("dev", false, "Development mode: an in-memory server on 127.0.0.1")
		server          = fs.Bool("server", false, "Run as a server")
		bootstrap       = fs.Bool("bootstrap", false, "Bootstrap a single-server cluster")
		bootstrapExpect = fs.Int("bootstrap-expect", 0, "Servers to wait for before bootstrapping")
		bind            = fs.String("bind", "", "Address to bind cluster traffic to")
		client          = fs.String("client", "", "Address to bind the HTTP and DNS servers to")
		advertise       = fs.String("advertise", "", "Address to advertise to other nodes")
		httpPort        = fs.Int("http-port", 0, "HTTP API port")
		dnsPort         = fs.Int("dns-port", 0, "DNS port")
		serverPort      = fs.Int("server-port", 0, "Server RPC (Raft) port")
		serfLANPort     = fs.Int("serf-lan-port", 0, "LAN gossip port")
		node            = fs.String("node", "", "Node name (default: hostname)")
		nodeID          = fs.String("node-id", "", "Node ID, a UUID (default: random)")
		dc              = fs.String("datacenter", "", "Datacenter name")
		dataDir         = fs.String("data-dir", "", "Directory for durable state")
		logLevel        = fs.String("log-level", "", "Log level: trace, debug, info, warn, error")
		uiFlag          = fs.Bool("ui", false, "Serve the web UI (always on)")
		enableDebug     = fs.Bool("enable-debug", false, "Serve Go's profiler at /debug/pprof")
		encrypt         = fs.String("encrypt", "", "Gossip encryption key, base64 (muster keygen)")
		retryInterval   = fs.Duration("retry-interval", 0, "Longest wait between -retry-join attempts (default 30s)")
		raftMultiplier  = fs.Int("raft-multiplier", 0, "Scale Raft's timeouts (1 = about half a second failover; up to 10)")
		raftHeartbeat   = fs.Duration("raft-heartbeat-timeout", 0, "Raft heartbeat timeout (overrides the multiplier)")
		raftElection    = fs.Duration("raft-election-timeout", 0, "Raft election timeout (overrides the multiplier)")
		configFiles     stringList
		retryJoin       stringList
		startJoin       stringList
	)
	fs.Var(&configFiles, "config-file", "JSON config file (repeatable)")
	fs.Var(&retryJoin, "retry-join", "Address of an agent to join, retried (repeatable)")
	fs.Var(&startJoin, "join", "Address of an agent to join at start (repeatable)")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	_ = uiFlag
	cfg := config.Default()
	if *dev {
		cfg.ApplyDev()
	}
	var unknown []string
	for _, f := range configFiles {
		u, err := cfg.LoadFile(f)
		if err != nil {
			return nil, nil, err
		}
		unknown = append(unknown, u...)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	str := func(name string, dst *string, v string) {
		if set[name] {
			*dst = v
		}
	}
	num := func(name string, dst *int, v int) {
		if set[name] {
			*dst = v
		}
	}
	if set["server"] {
		cfg.Server = *server
	}
	if set["bootstrap"] {
		cfg.Bootstrap = *bootstrap
	}
	num("bootstrap-expect", &cfg.BootstrapExpect, *bootstrapExpect)
	str("bind", &cfg.BindAddr, *bind)
	str("client", &cfg.ClientAddr, *client)
	str("advertise", &cfg.AdvertiseAddr, *advertise)
	num("http-port", &cfg.Ports.HTTP, *httpPort)
	num("dns-port", &cfg.Ports.DNS, *dnsPort)
	num("server-port", &cfg.Ports.Server, *serverPort)
	num("serf-lan-port", &cfg.Ports.SerfLAN, *serfLANPort)
	str("node", &cfg.NodeName, *node)
	str("node-id", &cfg.NodeID, *nodeID)
	str("datacenter", &cfg.Datacenter, *dc)
	str("data-dir", &cfg.DataDir, *dataDir)
	str("log-level", &cfg.LogLevel, *logLevel)
	if set["enable-debug"] {
		cfg.EnableDebug = *enableDebug
	}
	str("encrypt", &cfg.Encrypt, *encrypt)
	num("raft-multiplier", &cfg.Performance.RaftMultiplier, *raftMultiplier)
	dur := func(name string, dst *config.Duration, v time.Duration) {
		if set[name] {
			*dst = config.Duration(v)
		}
	}
	dur("retry-interval", &cfg.RetryInterval, *retryInterval)
	dur("raft-heartbeat-timeout", &cfg.Performance.RaftHeartbeatTimeout, *raftHeartbeat)
	dur("raft-election-timeout", &cfg.Performance.RaftElectionTimeout, *raftElection)
	cfg.RetryJoin = append(cfg.RetryJoin, retryJoin...)
	cfg.StartJoin = append(cfg.StartJoin, startJoin...)
	return cfg, unknown, nil
}

func runAgent(ctx context.Context, ui *UI, args []string) int {
	cfg, unknown, err := agentFlags(args, ui)
	if err != nil {
		fmt.Fprintln(ui.Err, err)
		return 1
	}
	logger := newLogger(ui, cfg.LogLevel)
	if len(unknown) > 0 {
		logger.Warn("config: keys muster does not use were ignored", "keys", strings.Join(unknown, ","))
	}
	a, err := agent.New(cfg, logger)
	if err != nil {
		fmt.Fprintf(ui.Err, "==> %v\n", err)
		return 1
	}
	fmt.Fprintf(ui.Out, "==> muster agent running!\n    Node name: %q\n   Datacenter: %q\n     HTTP API: http://%s\n",
		cfg.NodeName, cfg.Datacenter, a.HTTPAddr())
	select {
	case <-ctx.Done():
		fmt.Fprintln(ui.Out, "==> Caught signal, shutting down")
		if !cfg.Server {
			// A client agent leaves gracefully (Consul's leave_on_terminate
			// default for clients).
			if err := a.Leave(); err != nil {
				logger.Warn("agent: graceful leave failed", "err", err)
			}
		} else if err := a.StepDown(); err != nil {
			// A server stays a member (a restart rejoins as the same Raft
			// server), but a leader hands over first, so the cluster does
			// not wait out an election.
			logger.Warn("agent: leadership transfer failed", "err", err)
		}
	case <-a.Left():
		fmt.Fprintln(ui.Out, "==> Left the cluster, shutting down")
	}
	if err := a.Shutdown(); err != nil {
		logger.Error("agent: shutdown", "err", err)
		return 1
	}
	return 0
}

func newLogger(ui *UI, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "trace", "debug":
		l = slog.LevelDebug
	case "warn", "warning":
		l = slog.LevelWarn
	case "err", "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	w := ui.Err
	if w == nil {
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
