package dns

import (
	"errors"
	"testing"
	"time"

	"github.com/musterhq/muster/internal/state"
)

func TestConfigValidate(t *testing.T) {
	type testcase struct {
		edit  func(*Config)
		field string // "" for valid
	}
	tests := map[string]testcase{
		"defaults":                  {edit: func(*Config) {}},
		"no final dot":              {edit: func(c *Config) { c.Domain = "Consul" }},
		"no alt domain":             {edit: func(c *Config) { c.AltDomain = "" }},
		"recursor without port":     {edit: func(c *Config) { c.Recursors = []string{"8.8.8.8", "[2001:db8::1]:5353", "dns.example", "::1"} }},
		"bad addr":                  {edit: func(c *Config) { c.Addr = "8600" }, field: "Addr"},
		"no domain":                 {edit: func(c *Config) { c.Domain = "" }, field: "Domain"},
		"root domain":               {edit: func(c *Config) { c.Domain = "." }, field: "Domain"},
		"alt domain same as domain": {edit: func(c *Config) { c.AltDomain = "CONSUL" }, field: "AltDomain"},
		"no datacenter":             {edit: func(c *Config) { c.Datacenter = "" }, field: "Datacenter"},
		"dotted datacenter":         {edit: func(c *Config) { c.Datacenter = "eu.west" }, field: "Datacenter"},
		"negative node ttl":         {edit: func(c *Config) { c.NodeTTL = -time.Second }, field: "NodeTTL"},
		"negative service ttl":      {edit: func(c *Config) { c.ServiceTTL = -time.Second }, field: "ServiceTTL"},
		"no udp answers":            {edit: func(c *Config) { c.UDPAnswerLimit = 0 }, field: "UDPAnswerLimit"},
		"bad recursor":              {edit: func(c *Config) { c.Recursors = []string{"1.2.3.4:"} }, field: "Recursors"},
		"no recursor timeout":       {edit: func(c *Config) { c.Recursors = []string{"1.2.3.4"}; c.RecursorTimeout = 0 }, field: "RecursorTimeout"},
		"no catalog":                {edit: func(c *Config) { c.Catalog = nil }, field: "Catalog"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Catalog = StoreCatalog(state.New)
			tc.edit(&cfg)
			err := cfg.Validate()
			var ve *ValidationError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.field != "" && (!errors.As(err, &ve) || ve.Field != tc.field || !errors.Is(err, ErrInvalidConfig)):
				t.Fatalf("Validate: %v, want a ValidationError for %s", err, tc.field)
			}
			if _, err := New(cfg); (err == nil) != (tc.field == "") {
				t.Errorf("New: %v", err)
			}
		})
	}
}

func TestRecursorAddr(t *testing.T) {
	for in, want := range map[string]string{
		"8.8.8.8":            "8.8.8.8:53",
		"8.8.8.8:5353":       "8.8.8.8:5353",
		"::1":                "[::1]:53",
		"[2001:db8::1]:5353": "[2001:db8::1]:5353",
		"dns.example":        "dns.example:53",
	} {
		if got, err := recursorAddr(in); err != nil || got != want {
			t.Errorf("recursorAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
