// Package config holds the agent's configuration: defaults, JSON config
// files with Consul's key names, command-line flags, and validation.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// Ports are the agent's listening ports. -1 disables one.
type Ports struct {
	HTTP    int `json:"http"`
	HTTPS   int `json:"https"`
	DNS     int `json:"dns"`
	Server  int `json:"server"`
	SerfLAN int `json:"serf_lan"`
	SerfWAN int `json:"serf_wan"`
	GRPC    int `json:"grpc"`
	GRPCTLS int `json:"grpc_tls"`
}

// Limits bound requests (Consul's "limits" block).
type Limits struct {
	KVMaxValueSize int `json:"kv_max_value_size"` // bytes of one KV value
	TxnMaxReqLen   int `json:"txn_max_req_len"`   // bytes of a /v1/txn body
	TxnMaxOps      int `json:"txn_max_ops"`       // muster: operations per transaction
}

// Config is the agent's configuration. JSON keys are Consul's.
type Config struct {
	Dev             bool   `json:"-"`
	Server          bool   `json:"server"`
	Bootstrap       bool   `json:"bootstrap"`
	BootstrapExpect int    `json:"bootstrap_expect"`
	NodeName        string `json:"node_name"`
	NodeID          string `json:"node_id"`
	Datacenter      string `json:"datacenter"`
	DataDir         string `json:"data_dir"`
	BindAddr        string `json:"bind_addr"`
	ClientAddr      string `json:"client_addr"`
	AdvertiseAddr   string `json:"advertise_addr"`
	Ports           Ports  `json:"ports"`
	LogLevel        string `json:"log_level"`
	// StartJoin are agents to join at start (-join); failing to reach all
	// of them stops the agent, as in Consul.
	StartJoin []string `json:"start_join"`
	// RetryJoin are agents to join, retried with backoff (starting at one
	// second, doubling up to RetryInterval) until one answers.
	RetryJoin     []string `json:"retry_join"`
	RetryInterval Duration `json:"retry_interval"`
	// Encrypt is the base64 gossip encryption key (-encrypt, muster keygen).
	Encrypt string `json:"encrypt"`
	Limits  Limits `json:"limits"`
	// Performance tunes Raft's timing (Consul's performance block).
	Performance Performance `json:"performance"`
	// GossipLAN tunes the LAN pool's failure detector (Consul's gossip_lan).
	GossipLAN GossipLAN `json:"gossip_lan"`
	// RaftLogStore picks a server's Raft log (Consul's raft_logstore).
	RaftLogStore RaftLogStore `json:"raft_logstore"`

	// EnableDebug serves Go's profiler at /debug/pprof (Consul's key).
	EnableDebug bool `json:"enable_debug"`

	// EnableScriptChecks lets checks run programs (Args), Consul's key;
	// enable_local_script_checks is read as the same switch.
	EnableScriptChecks      bool `json:"enable_script_checks"`
	EnableLocalScriptChecks bool `json:"enable_local_script_checks"`

	// NodeMeta is the agent's node metadata in the catalog (Consul's key).
	NodeMeta map[string]string `json:"node_meta"`
	// Locality is the agent's region and zone; services registered on the
	// agent without one take it (Consul's key).
	Locality *Locality `json:"locality"`

	// Recursors are upstream DNS servers for names outside the domain
	// (Consul's key); none by default, so such questions are refused.
	Recursors []string `json:"recursors"`
	// DNSConfig holds Consul's dns_config keys muster reads.
	DNSConfig DNSConfig `json:"dns_config"`

	// Files are the config files read, in order (PUT /v1/agent/reload
	// re-reads their service definitions).
	Files []string `json:"-"`
	// Services are the raw "service" and "services" entries of the config
	// files, decoded by package local.
	Services []json.RawMessage `json:"-"`
	// Checks are the raw top-level "check" and "checks" entries (node
	// checks, or checks of a service named by service_id).
	Checks []json.RawMessage `json:"-"`

	// SessionTTLGrace is how long after its TTL an unrenewed session
	// expires (muster; Consul instead doubles the TTL).
	SessionTTLGrace Duration `json:"session_ttl_grace"`
}

// RaftLogStore is Consul's raft_logstore block.
type RaftLogStore struct {
	// Backend is "wal" (hashicorp/raft-wal: an append-only segmented log,
	// one fsync per batch of entries) or "boltdb" (raft-boltdb, two
	// fsyncs per batch). Empty, the default: the backend the data
	// directory already holds, wal for a new one. A data directory keeps
	// the backend it was created with.
	Backend string `json:"backend"`
}

// Performance is Consul's performance block, with muster's explicit Raft
// timeouts (zero: BaseTiming times RaftMultiplier).
type Performance struct {
	// RaftMultiplier scales Raft's timeouts; 1 (muster's default) replaces
	// a dead leader in about half a second on a LAN, higher values suit
	// slow or loaded networks.
	RaftMultiplier         int      `json:"raft_multiplier"`
	RaftHeartbeatTimeout   Duration `json:"raft_heartbeat_timeout"`
	RaftElectionTimeout    Duration `json:"raft_election_timeout"`
	RaftLeaderLeaseTimeout Duration `json:"raft_leader_lease_timeout"`
}

// GossipLAN is Consul's gossip_lan block: the failure detector's timing.
// Zero fields take muster's defaults, which detect a dead agent in about
// two seconds on a LAN.
type GossipLAN struct {
	ProbeInterval  Duration `json:"probe_interval"`
	ProbeTimeout   Duration `json:"probe_timeout"`
	SuspicionMult  int      `json:"suspicion_mult"`
	GossipInterval Duration `json:"gossip_interval"`
}

// Locality is Consul's locality block.
type Locality struct {
	Region string `json:"region"`
	Zone   string `json:"zone"`
}

// DNSConfig is Consul's dns_config section.
type DNSConfig struct {
	OnlyPassing    bool `json:"only_passing"`     // leave out warning instances too
	UDPAnswerLimit int  `json:"udp_answer_limit"` // answers in a UDP reply without EDNS (default 3)
}

// Duration is a time.Duration that reads "10s" in JSON.
type Duration time.Duration

// UnmarshalJSON accepts a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"10s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Default returns the configuration of a plain agent.
func Default() *Config {
	return &Config{
		Datacenter: "dc1",
		BindAddr:   "0.0.0.0",
		ClientAddr: "127.0.0.1",
		Ports: Ports{
			HTTP:    8500, // Consul's
			HTTPS:   -1,
			DNS:     8600,
			Server:  8300,
			SerfLAN: 8301,
			SerfWAN: 8302,
			GRPC:    -1,
			GRPCTLS: -1,
		},
		LogLevel:      "info",
		RetryInterval: Duration(30 * time.Second), // Consul's
		Performance:   Performance{RaftMultiplier: 1},
		Limits: Limits{
			KVMaxValueSize: 512 * 1024,      // Consul's default
			TxnMaxReqLen:   2 * 1024 * 1024, // room for a full-size value in base64
			TxnMaxOps:      64,              // Consul's default
		},
		SessionTTLGrace: Duration(time.Second),
	}
}

// ApplyDev sets what -dev implies: an in-memory server, bound to loopback.
func (c *Config) ApplyDev() {
	c.Dev = true
	c.Server = true
	c.Bootstrap = true
	c.BindAddr = "127.0.0.1"
}

// knownKeys lists every top-level and nested key muster reads; others are
// accepted with a warning.
var knownKeys = map[string][]string{
	"": {"server", "bootstrap", "bootstrap_expect", "node_name", "node_id", "datacenter",
		"data_dir", "bind_addr", "client_addr", "advertise_addr", "ports", "log_level",
		"retry_join", "start_join", "retry_interval", "encrypt", "performance", "gossip_lan", "raft_logstore", "limits", "session_ttl_grace", "enable_debug", "enable_script_checks",
		"enable_local_script_checks", "service", "services", "check", "checks", "recursors", "dns_config", "node_meta", "locality"},
	"dns_config":    {"only_passing", "udp_answer_limit"},
	"performance":   {"raft_multiplier", "raft_heartbeat_timeout", "raft_election_timeout", "raft_leader_lease_timeout"},
	"gossip_lan":    {"probe_interval", "probe_timeout", "suspicion_mult", "gossip_interval"},
	"raft_logstore": {"backend"},
	"ports":         {"http", "https", "dns", "server", "serf_lan", "serf_wan", "grpc", "grpc_tls"},
	"limits":        {"kv_max_value_size", "txn_max_req_len", "txn_max_ops"},
}

// LoadFile merges a JSON config file into c. It returns the keys it does
// not use (dotted paths), which the caller reports with one warning; they are
// never an error, so Consul config files work unchanged.
func (c *Config) LoadFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}") // an empty file configures nothing, as in Consul
	}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	c.Files = append(c.Files, path)
	for _, k := range []string{"service", "services"} {
		if v, ok := raw[k]; ok {
			c.Services = append(c.Services, v)
		}
	}
	for _, k := range []string{"check", "checks"} {
		if v, ok := raw[k]; ok {
			c.Checks = append(c.Checks, v)
		}
	}
	return unknownKeys(raw), nil
}

func unknownKeys(raw map[string]json.RawMessage) []string {
	known := func(section, key string) bool {
		for _, k := range knownKeys[section] {
			if k == key {
				return true
			}
		}
		return false
	}
	var out []string
	for k, v := range raw {
		if !known("", k) {
			out = append(out, k)
			continue
		}
		if _, nested := knownKeys[k]; nested {
			var sub map[string]json.RawMessage
			if json.Unmarshal(v, &sub) == nil {
				for sk := range sub {
					if !known(k, sk) {
						out = append(out, k+"."+sk)
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// ValidationError names the field that is wrong.
type ValidationError struct {
	Field string
	Value any
	Err   error
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("config: %s=%v: %v", e.Field, e.Value, e.Err)
}

func (e *ValidationError) Unwrap() error { return e.Err }

var errInvalid = errors.New("invalid")

// Validate checks the configuration and fills values derived from others.
func (c *Config) Validate() error {
	if c.Datacenter == "" || strings.ContainsAny(c.Datacenter, " /") {
		return &ValidationError{"datacenter", c.Datacenter, fmt.Errorf("%w: must be non-empty, without spaces or slashes", errInvalid)}
	}
	switch {
	case c.Dev && c.BootstrapExpect > 1:
		return &ValidationError{"bootstrap_expect", c.BootstrapExpect, errors.New("-dev is a single in-memory server; drop -bootstrap-expect")}
	case !c.Server && !c.Dev && (c.Bootstrap || c.BootstrapExpect > 0):
		return &ValidationError{"server", c.Server, errors.New("bootstrap and bootstrap_expect need server mode (-server)")}
	case c.Bootstrap && !c.Dev && c.BootstrapExpect > 1:
		return &ValidationError{"bootstrap_expect", c.BootstrapExpect, errors.New("bootstrap and bootstrap_expect are mutually exclusive")}
	case c.BootstrapExpect < 0:
		return &ValidationError{"bootstrap_expect", c.BootstrapExpect, fmt.Errorf("%w: must not be negative", errInvalid)}
	case !c.Dev && c.DataDir == "":
		return &ValidationError{"data_dir", c.DataDir, errors.New("a data directory is required outside -dev mode")}
	case c.Server && !c.Dev && (c.Ports.Server < 0 || c.Ports.SerfLAN < 0):
		return &ValidationError{"ports.server", c.Ports.Server, errors.New("a server needs its server and serf_lan ports")}
	case !c.Dev && c.Ports.SerfLAN < 0:
		return &ValidationError{"ports.serf_lan", c.Ports.SerfLAN, errors.New("a client agent needs its serf_lan port to reach the servers")}
	case c.RaftLogStore.Backend != "" && c.RaftLogStore.Backend != "boltdb" && c.RaftLogStore.Backend != "wal":
		return &ValidationError{"raft_logstore.backend", c.RaftLogStore.Backend, fmt.Errorf("%w: want boltdb or wal", errInvalid)}
	case c.Performance.RaftMultiplier < 0 || c.Performance.RaftMultiplier > 10:
		return &ValidationError{"performance.raft_multiplier", c.Performance.RaftMultiplier, fmt.Errorf("%w: want 1 to 10", errInvalid)}
	}
	if c.BootstrapExpect == 1 {
		c.Bootstrap = true
	}
	for name, p := range map[string]int{"ports.http": c.Ports.HTTP, "ports.dns": c.Ports.DNS, "ports.server": c.Ports.Server, "ports.serf_lan": c.Ports.SerfLAN} {
		if p < -1 || p > 65535 {
			return &ValidationError{name, p, fmt.Errorf("%w: port out of range", errInvalid)}
		}
	}
	if c.Limits.KVMaxValueSize <= 0 {
		return &ValidationError{"limits.kv_max_value_size", c.Limits.KVMaxValueSize, fmt.Errorf("%w: must be positive", errInvalid)}
	}
	if c.Limits.TxnMaxReqLen <= 0 {
		return &ValidationError{"limits.txn_max_req_len", c.Limits.TxnMaxReqLen, fmt.Errorf("%w: must be positive", errInvalid)}
	}
	if c.Limits.TxnMaxOps <= 0 {
		return &ValidationError{"limits.txn_max_ops", c.Limits.TxnMaxOps, fmt.Errorf("%w: must be positive", errInvalid)}
	}
	switch strings.ToLower(c.LogLevel) {
	case "trace", "debug", "info", "warn", "warning", "err", "error":
	default:
		return &ValidationError{"log_level", c.LogLevel, fmt.Errorf("%w: want trace, debug, info, warn or error", errInvalid)}
	}
	if c.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return &ValidationError{"node_name", "", err}
		}
		c.NodeName = h
	}
	return nil
}
