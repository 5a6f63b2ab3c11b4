package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
)

// newFlagSet returns a flag set for one command that reports errors to
// ui.Err and prints help (the text, then the flags) on -h.
func newFlagSet(name, help string, ui *UI) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(ui.Err)
	fs.Usage = func() {
		fmt.Fprintf(ui.Err, "%s\n\n", strings.TrimSpace(help))
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs. When it returns false the command must
// stop and exit with code: 0 after -h (help was printed), 1 after a bad flag
// (the flag package has said why).
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		return 0, false
	default:
		return 1, false
	}
}

// httpFlags are the connection flags of every command that talks to an
// agent, named as Consul's (command/flags.HTTPFlags). Empty values mean "not
// given".
type httpFlags struct {
	addr       string // -http-addr; empty falls back as api.ResolveAddress does
	token      string // -token
	tokenFile  string // -token-file; wins over -token, as in Consul
	datacenter string // -datacenter; empty means the agent's own
	stale      bool   // -stale; applies to reads only
}

// addClientFlags registers -http-addr, -token and -token-file on fs.
func (f *httpFlags) addClientFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "http-addr", "",
		"The `address` and port of the muster HTTP agent, host:port or a URL. Defaults to $"+
			api.EnvHTTPAddr+", then $"+api.EnvConsulHTTPAddr+", then "+api.DefaultAddress+".")
	fs.StringVar(&f.token, "token", "",
		"ACL token to send with each request (muster ignores it; Consul honours it).")
	fs.StringVar(&f.tokenFile, "token-file", "",
		"File containing the ACL token; wins over -token.")
}

// addServerFlags registers -datacenter and -stale on fs.
func (f *httpFlags) addServerFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.datacenter, "datacenter", "",
		"Name of the datacenter to query. Defaults to the datacenter of the queried agent.")
	fs.BoolVar(&f.stale, "stale", false,
		"Permit any server (non-leader) to answer reads. Lower latency, possibly stale data.")
}

// client returns a client for the agent the flags name. -datacenter, when
// given, is sent with every request the client makes (as Consul's
// Config.Datacenter is), including those of the Consul lock and semaphore
// helpers, which take no per-request options.
// connect returns a client for the flags, or reports why it cannot and
// returns false; the command then exits 1.
func (f *httpFlags) connect(ui *UI) (*api.Client, bool) {
	c, err := f.client()
	if err != nil {
		ui.error("Error connecting to muster agent: %s", err)
		return nil, false
	}
	return c, true
}

func (f *httpFlags) client() (*api.Client, error) {
	cfg := &api.Config{Address: f.addr, Token: f.token}
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("cli: reading -token-file: %w", err)
		}
		cfg.Token = strings.TrimSpace(string(b))
	}
	if f.datacenter != "" {
		cfg.HTTPClient = &http.Client{Transport: &dcTransport{dc: f.datacenter, next: newTransport()}}
	}
	return api.NewClient(cfg)
}

// queryOptions returns the read options the flags ask for, bound to ctx.
func (f *httpFlags) queryOptions(ctx context.Context) *consulapi.QueryOptions {
	return (&consulapi.QueryOptions{AllowStale: f.stale}).WithContext(ctx)
}

// writeOptions returns write options bound to ctx.
func (f *httpFlags) writeOptions(ctx context.Context) *consulapi.WriteOptions {
	return (&consulapi.WriteOptions{}).WithContext(ctx)
}

// newTransport is api.NewClient's default transport: pooled keep-alive
// connections, enough for many blocking queries at once.
func newTransport() *http.Transport {
	return &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 256}
}

// dcTransport adds ?dc= to every request that does not name one.
type dcTransport struct {
	dc   string            // never empty
	next http.RoundTripper // never nil
}

func (t *dcTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	if q.Get("dc") != "" {
		return t.next.RoundTrip(req)
	}
	r := req.Clone(req.Context()) // a RoundTripper must not modify req
	q.Set("dc", t.dc)
	r.URL.RawQuery = q.Encode()
	return t.next.RoundTrip(r)
}
