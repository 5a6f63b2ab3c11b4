package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
)

const watchHelp = `
Usage: muster watch -type=TYPE [options] [HANDLER...]

  Watches a view of the catalog or the KV store with blocking queries. The
  first view is delivered at once, then each one that differs from the last.
  With HANDLER, each view is handed to the command, run through $SHELL -c
  (default /bin/sh) with the arguments joined by spaces, as JSON on its
  stdin and with CONSUL_INDEX set to the view's index; the watch waits for
  it, and ends with exit code 1 if it fails. Without HANDLER, the first view
  is printed as indented JSON and the watch ends, as Consul's does. With a
  handler, the watch runs until interrupted (exit code 0).
  If the agent cannot be reached at the start, it exits 1; if the agent
  goes away later, the watch retries, waiting longer each time up to a
  minute, and carries on when it is back.

  Unlike Consul's watch, which without HANDLER prints the first view and
  exits, muster's keeps printing each change; end it after the first view
  for Consul's behaviour.

  Types, and the options each takes:

      key        -key=KEY (required)
      keyprefix  -prefix=PREFIX (required)
      services   [-filter=EXPR]
      nodes      [-filter=EXPR]
      service    -service=NAME (required) [-tag=TAG]... [-passingonly=true] [-filter=EXPR]
      checks     [-service=NAME | -state=any|passing|warning|critical] [-filter=EXPR]

      $ muster watch -type=key -key=config/mode
      $ muster watch -type=service -service=web -passingonly=true ./reload-proxy.sh
`

// watchFlags are `muster watch`'s flags.
type watchFlags struct {
	http        httpFlags
	typ         string
	key         string
	prefix      string
	service     string
	tags        stringList
	passingOnly string // "" or a strconv.ParseBool value, as Consul's
	state       string
	filter      string
	shell       bool
}

// watchParams are the options each watch type takes, besides -type.
var watchParams = map[string][]string{
	"key":       {"key"},
	"keyprefix": {"prefix"},
	"services":  {"filter"},
	"nodes":     {"filter"},
	"service":   {"service", "tag", "passingonly", "filter"},
	"checks":    {"service", "state", "filter"},
}

// runWatch is `muster watch`, Consul's `consul watch`, for the watch types
// above (not event: muster has no user events). watchLoop.run documents
// when it delivers and retries. It exits 0 when ctx ends (SIGINT, SIGTERM)
// and 1 when the flags are wrong, the agent cannot be reached at the
// start, a handler fails or the agent refuses the query.
func runWatch(ctx context.Context, ui *UI, args []string) int {
	var f watchFlags
	fs := newFlagSet("watch", watchHelp, ui)
	fs.StringVar(&f.typ, "type", "", "The watch type: key, keyprefix, services, nodes, service or checks.")
	fs.StringVar(&f.key, "key", "", "The key to watch. Only for the key type.")
	fs.StringVar(&f.prefix, "prefix", "", "The key prefix to watch. Only for the keyprefix type.")
	fs.StringVar(&f.service, "service", "", "The service to watch. Required for the service type, optional for checks.")
	fs.Var(&f.tags, "tag", "Service tag to filter on; may be given more than once (all must match). Only for the service type.")
	fs.StringVar(&f.passingOnly, "passingonly", "", "Whether to list only instances whose every check passes, `true|false`. Only for the service type; default false.")
	fs.StringVar(&f.state, "state", "", "Check state to filter on: any, passing, warning or critical. Only for the checks type.")
	fs.StringVar(&f.filter, "filter", "", "Filter `expression` over the results. For the services, nodes, service and checks types.")
	fs.BoolVar(&f.shell, "shell", true, "Run HANDLER with $SHELL -c (default /bin/sh); false runs HANDLER... directly.")
	f.http.addClientFlags(fs)
	f.http.addServerFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if f.typ == "" {
		ui.error("Watch type must be specified\n")
		fs.Usage()
		return 1
	}
	query, err := f.query(fs)
	if err != nil {
		ui.error("%s", err)
		return 1
	}
	c, ok := f.http.connect(ui)
	if !ok {
		return 1
	}
	if _, err := c.Agent().NodeName(); err != nil {
		ui.error("Error querying muster agent: %s", err)
		return 1
	}
	// Without HANDLER, the first view is printed and the watch ends, as
	// Consul's does.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	print := printView(ui.Out)
	handle := func(ctx context.Context, index uint64, view []byte) error {
		defer cancel()
		return print(ctx, index, view)
	}
	if handler := fs.Args(); len(handler) > 0 {
		handle = execView(ui, handler, f.shell)
	}
	w := &watchLoop{
		typ: f.typ, query: query, stale: f.http.stale, handle: handle, log: ui.Err,
		retryMin: watchRetryMin, retryMax: watchRetryMax,
	}
	if err := w.run(ctx, c); err != nil {
		ui.error("Error %s", err)
		return 1
	}
	return 0
}

// query checks the options against the watch type, with Consul's
// messages, and returns the type's read.
func (f *watchFlags) query(fs *flag.FlagSet) (watchQuery, error) {
	allowed, ok := watchParams[f.typ]
	if !ok {
		if f.typ == "event" {
			return nil, errors.New("Unsupported watch type: event (muster has no user events)")
		}
		return nil, fmt.Errorf("Unsupported watch type: %s", f.typ)
	}
	var invalid []string
	fs.Visit(func(fl *flag.Flag) {
		if _, param := watchParamFlags[fl.Name]; param && !slices.Contains(allowed, fl.Name) {
			invalid = append(invalid, "-"+fl.Name)
		}
	})
	if len(invalid) > 0 {
		sort.Strings(invalid)
		return nil, fmt.Errorf("Invalid parameters for -type=%s: %s", f.typ, strings.Join(invalid, ", "))
	}
	filter := f.filter
	switch f.typ {
	case "key":
		if f.key == "" {
			return nil, errors.New("Must specify a single key to watch")
		}
		key := f.key
		return func(c *api.Client, q *consulapi.QueryOptions) (any, *consulapi.QueryMeta, error) {
			pair, meta, err := c.KV().Get(key, q)
			return pair, meta, err // a missing key's nil pair encodes as null, as in Consul
		}, nil
	case "keyprefix":
		if f.prefix == "" {
			return nil, errors.New("Must specify a single prefix to watch")
		}
		prefix := f.prefix
		return func(c *api.Client, q *consulapi.QueryOptions) (any, *consulapi.QueryMeta, error) {
			pairs, meta, err := c.KV().List(prefix, q)
			return pairs, meta, err
		}, nil
	case "services":
		return func(c *api.Client, q *consulapi.QueryOptions) (any, *consulapi.QueryMeta, error) {
			q.Filter = filter
			services, meta, err := c.Catalog().Services(q)
			return services, meta, err
		}, nil
	case "nodes":
		return func(c *api.Client, q *consulapi.QueryOptions) (any, *consulapi.QueryMeta, error) {
			q.Filter = filter
			nodes, meta, err := c.Catalog().Nodes(q)
			return nodes, meta, err
		}, nil
	case "service":
		if f.service == "" {
			return nil, errors.New("Must specify a single service to watch")
		}
		passing := false
		if f.passingOnly != "" {
			b, err := strconv.ParseBool(f.passingOnly)
			if err != nil {
				return nil, fmt.Errorf("Failed to parse passingonly flag: %s", err)
			}
			passing = b
		}
		service, tags := f.service, []string(f.tags)
		return func(c *api.Client, q *consulapi.QueryOptions) (any, *consulapi.QueryMeta, error) {
			q.Filter = filter
			entries, meta, err := c.Health().ServiceMultipleTags(service, tags, passing, q)
			return entries, meta, err
		}, nil
	default: // checks
		service, state := f.service, f.state
		switch {
		case service != "" && state != "":
			return nil, errors.New("Cannot specify service and state")
		case service == "" && state == "":
			state = consulapi.HealthAny
		}
		if state != "" && !slices.Contains([]string{consulapi.HealthAny, consulapi.HealthPassing, consulapi.HealthWarning, consulapi.HealthCritical}, state) {
			return nil, fmt.Errorf("Unsupported state: %s", state)
		}
		return func(c *api.Client, q *consulapi.QueryOptions) (any, *consulapi.QueryMeta, error) {
			q.Filter = filter
			if state != "" {
				checks, meta, err := c.Health().State(state, q)
				return checks, meta, err
			}
			checks, meta, err := c.Health().Checks(service, q)
			return checks, meta, err
		}, nil
	}
}

// watchParamFlags are the flags that are watch parameters, checked against
// watchParams.
var watchParamFlags = map[string]struct{}{
	"key": {}, "prefix": {}, "service": {}, "tag": {}, "passingonly": {}, "state": {}, "filter": {},
}
