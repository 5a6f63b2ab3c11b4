package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Consul config files work unchanged: what muster reads is applied, and
// the rest is listed (for one warning), never an error.
func TestLoadFile_ConsulKeys(t *testing.T) {
	c := Default()
	unknown, err := c.LoadFile(writeFile(t, `{
		"node_name": "n1", "server": true, "bootstrap": true, "data_dir": "/tmp/x",
		"ports": {"http": 18500, "grpc_tls": 1, "sidecar_min_port": 2},
		"limits": {"kv_max_value_size": 1024},
		"performance": {"raft_multiplier": 1}, "acl": {"tokens": {}}, "segments": null
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeName != "n1" || !c.Server || !c.Bootstrap || c.Ports.HTTP != 18500 || c.Limits.KVMaxValueSize != 1024 {
		t.Fatalf("loaded %+v", c)
	}
	if c.Ports.DNS != 8600 || c.Limits.TxnMaxOps != 64 {
		t.Fatalf("defaults lost: %+v", c)
	}
	if got := strings.Join(unknown, ","); got != "acl,ports.sidecar_min_port,segments" {
		t.Fatalf("unknown keys %q", got)
	}
}

func TestLoadFile_Errors(t *testing.T) {
	tests := map[string]string{
		"malformed":    `{"node_name": `,
		"wrong type":   `{"ports": {"http": "eighty"}}`,
		"bad duration": `{"session_ttl_grace": "soon"}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Default().LoadFile(writeFile(t, body)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := Default().LoadFile(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestValidate(t *testing.T) {
	tests := map[string]struct {
		modify func(*Config)
		field  string // "" means valid
	}{
		"dev":                    {func(c *Config) { c.ApplyDev() }, ""},
		"single durable server":  {func(c *Config) { c.Server, c.Bootstrap, c.DataDir = true, true, "/d" }, ""},
		"bootstrap_expect 1":     {func(c *Config) { c.Server, c.BootstrapExpect, c.DataDir = true, 1, "/d" }, ""},
		"client agent":           {func(c *Config) { c.DataDir = "/d" }, ""},
		"client without data":    {func(c *Config) {}, "data_dir"},
		"client bootstrapping":   {func(c *Config) { c.BootstrapExpect, c.DataDir = 3, "/d" }, "server"},
		"three servers":          {func(c *Config) { c.Server, c.BootstrapExpect, c.DataDir = true, 3, "/d" }, ""},
		"both bootstraps":        {func(c *Config) { c.Server, c.Bootstrap, c.BootstrapExpect, c.DataDir = true, true, 3, "/d" }, "bootstrap_expect"},
		"dev cluster":            {func(c *Config) { c.ApplyDev(); c.BootstrapExpect = 3 }, "bootstrap_expect"},
		"server without port":    {func(c *Config) { c.Server, c.DataDir, c.Ports.Server = true, "/d", -1 }, "ports.server"},
		"multiplier too big":     {func(c *Config) { c.ApplyDev(); c.Performance.RaftMultiplier = 11 }, "performance.raft_multiplier"},
		"unknown raft log store": {func(c *Config) { c.ApplyDev(); c.RaftLogStore.Backend = "rocksdb" }, "raft_logstore.backend"},
		"server without data":    {func(c *Config) { c.Server, c.Bootstrap = true, true }, "data_dir"},
		"bad datacenter":         {func(c *Config) { c.ApplyDev(); c.Datacenter = "dc 1" }, "datacenter"},
		"bad port":               {func(c *Config) { c.ApplyDev(); c.Ports.HTTP = 70000 }, "ports.http"},
		"zero value limit":       {func(c *Config) { c.ApplyDev(); c.Limits.KVMaxValueSize = 0 }, "limits.kv_max_value_size"},
		"bad log level":          {func(c *Config) { c.ApplyDev(); c.LogLevel = "loud" }, "log_level"},
		"negative txn ops limit": {func(c *Config) { c.ApplyDev(); c.Limits.TxnMaxOps = -1 }, "limits.txn_max_ops"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := Default()
			tc.modify(c)
			err := c.Validate()
			var ve *ValidationError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.field != "" && (!errors.As(err, &ve) || ve.Field != tc.field):
				t.Fatalf("got %v, want an error naming %s", err, tc.field)
			}
			if tc.field == "" && c.NodeName == "" {
				t.Fatal("node name not defaulted")
			}
		})
	}
}
