// Package testagent starts real muster dev agents on loopback for tests. It
// is imported only from _test.go files, so it never ships in the binary
// (TestImportFences in package main checks that).
package testagent

import (
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/internal/agent"
	"github.com/musterhq/muster/internal/config"
	"github.com/musterhq/muster/internal/state"
)

// Agent is a running dev agent with clients pointed at it.
type Agent struct {
	*agent.Agent
	Config *config.Config
	Client *api.Client // muster's client; embeds the official Consul client
	Addr   string      // host:port of the HTTP API
}

// Start runs a dev agent on 127.0.0.1 with an ephemeral HTTP port, after
// letting modify adjust its config, and stops it in t.Cleanup.
func Start(t testing.TB, modify ...func(*config.Config)) *Agent {
	t.Helper()
	return startAgent(t, modify...)
}

// startAgent starts an agent from the dev defaults as modify changes them.
func startAgent(t testing.TB, modify ...func(*config.Config)) *Agent {
	t.Helper()
	cfg := config.Default()
	cfg.ApplyDev()
	cfg.NodeName = "node-" + t.Name()
	cfg.Ports.HTTP = 0
	cfg.Ports.DNS = 0
	cfg.Ports.SerfLAN = 0
	cfg.SessionTTLGrace = config.Duration(100 * time.Millisecond)
	for _, m := range modify {
		m(cfg)
	}
	var out io.Writer = io.Discard
	if os.Getenv("MUSTER_TEST_LOG") != "" {
		out = os.Stderr
	}
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", cfg.NodeName)
	a, err := agent.New(cfg, logger)
	if err != nil {
		t.Fatalf("testagent: start: %v", err)
	}
	t.Cleanup(func() { a.Shutdown() })
	c, err := api.NewClient(&api.Config{Address: a.HTTPAddr()})
	if err != nil {
		t.Fatalf("testagent: client: %v", err)
	}
	return &Agent{Agent: a, Config: cfg, Client: c, Addr: a.HTTPAddr()}
}

// WaitFor polls cond every 10 ms until it returns true or timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// FSMState is the agent's current state store, for assertions on state the
// API does not show.
func (a *Agent) FSMState() *state.Store { return a.Agent.State() }
