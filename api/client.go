// Package api is muster's public Go client. It embeds the official Consul
// client (github.com/hashicorp/consul/api), so everything Consul-compatible
// is there under the usual names (KV, Session, Txn, Status, Agent, ...), and
// adds muster's extensions: fair lock waits and fencing tokens.
//
// The extensions work only against muster; against Consul they fail with
// ErrNotMuster or fall back as each method documents. The package never
// imports muster's internal packages.
package api

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	consul "github.com/hashicorp/consul/api"
)

// Environment variables naming the agent's HTTP address, in order of
// precedence.
const (
	EnvHTTPAddr       = "MUSTER_HTTP_ADDR"
	EnvConsulHTTPAddr = "CONSUL_HTTP_ADDR"
)

// DefaultAddress is the dev agent's HTTP address.
const DefaultAddress = "127.0.0.1:8500"

// Config configures a Client.
type Config struct {
	// Address is host:port or a URL (http://host:port). Empty means
	// $MUSTER_HTTP_ADDR, then $CONSUL_HTTP_ADDR, then DefaultAddress.
	Address string
	// Token is an ACL token sent with each request (muster ignores it;
	// Consul honours it).
	Token string
	// HTTPClient, if set, is used for every request.
	HTTPClient *http.Client
}

// Client talks to one agent.
type Client struct {
	*consul.Client
	base string // scheme://host:port
	http *http.Client
}

// ResolveAddress applies Config.Address's defaulting rules.
func ResolveAddress(addr string) string {
	for _, v := range []string{addr, os.Getenv(EnvHTTPAddr), os.Getenv(EnvConsulHTTPAddr)} {
		if v != "" {
			return v
		}
	}
	return DefaultAddress
}

// NewClient returns a client for cfg (nil means defaults).
func NewClient(cfg *Config) (*Client, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	addr := ResolveAddress(cfg.Address)
	scheme := "http"
	if i := strings.Index(addr, "://"); i >= 0 {
		scheme, addr = addr[:i], addr[i+3:]
	}
	if strings.HasPrefix(addr, "unix") {
		return nil, fmt.Errorf("api: unix socket addresses are not supported: %q", addr)
	}
	cc := consul.DefaultNonPooledConfig()
	cc.Address, cc.Scheme, cc.Token = addr, scheme, cfg.Token
	hc := cfg.HTTPClient
	if hc == nil {
		// Pooled keep-alive connections: one client may hold many blocking
		// queries at once.
		hc = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: 256,
		}}
	}
	cc.HttpClient = hc
	c, err := consul.NewClient(cc)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	return &Client{Client: c, base: scheme + "://" + addr, http: hc}, nil
}

// Address is the agent's base URL.
func (c *Client) Address() string { return c.base }

// ErrNotMuster means an extension was used against a server that is not
// muster.
var ErrNotMuster = errors.New("api: the server does not support this muster extension")
