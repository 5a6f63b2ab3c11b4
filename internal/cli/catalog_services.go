package cli

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
)

const catalogServicesHelp = `
Usage: muster catalog services [options]

  Lists the services in the catalog by name, one a line; with -tags, each
  followed by its tags (the union over its instances), comma-separated.
  Exits 0, with a note on stderr, when no service matches.

      $ muster catalog services
      $ muster catalog services -tags
      $ muster catalog services -node=worker-01
      $ muster catalog services -node-meta=rack=r1
`

// catalogServicesFlags are `muster catalog services`'s flags.
type catalogServicesFlags struct {
	http     httpFlags
	node     string
	nodeMeta mapFlag
	tags     bool
	filter   string
}

// runCatalogServices is `muster catalog services`, Consul's `consul catalog
// services`.
func runCatalogServices(ctx context.Context, ui *UI, args []string) int {
	var f catalogServicesFlags
	fs := newFlagSet("catalog services", catalogServicesHelp, ui)
	fs.StringVar(&f.node, "node", "", "Only list the services of the node with this `name`.")
	fs.Var(&f.nodeMeta, "node-meta", "Only list services on nodes with this metadata, as `key=value`. May be given more than once.")
	fs.BoolVar(&f.tags, "tags", false, "Display each service's tags as a comma-separated list beside each service entry.")
	fs.StringVar(&f.filter, "filter", "", "Filter `expression` over the service instances (over the node's services with -node); \"@file\" reads it from a file, \"-\" from stdin.")
	f.http.addClientFlags(fs)
	f.http.addServerFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !noArgs(ui, fs.Args()) {
		return 1
	}
	filter, ok := filterArg(ui, f.filter)
	if !ok {
		return 1
	}
	c, ok := f.http.connect(ui)
	if !ok {
		return 1
	}
	q := f.http.queryOptions(ctx)
	q.NodeMeta, q.Filter = f.nodeMeta, filter
	var services map[string][]string
	if f.node != "" {
		node, _, err := c.Catalog().Node(f.node, q)
		if err != nil {
			ui.error("Error listing services for node: %s", err)
			return 1
		}
		if node != nil {
			services = make(map[string][]string, len(node.Services))
			for _, s := range node.Services {
				services[s.Service] = append(services[s.Service], s.Tags...)
			}
		}
	} else {
		var err error
		if services, _, err = c.Catalog().Services(q); err != nil {
			ui.error("Error listing services: %s", err)
			return 1
		}
	}
	if len(services) == 0 {
		ui.error("No services match the given query - try expanding your search.")
		return 0
	}
	names := make([]string, 0, len(services))
	for name := range services {
		names = append(names, name)
	}
	sort.Strings(names)
	if !f.tags {
		for _, name := range names {
			ui.info("%s", name)
		}
		return 0
	}
	// Consul's layout for this table, unlike the nodes table's; lines of
	// services without tags are trimmed of the padding.
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 2, 6, ' ', 0)
	for _, name := range names {
		tags := slices.Clone(services[name])
		slices.Sort(tags)
		fmt.Fprintf(tw, "%s\t%s\n", name, strings.Join(slices.Compact(tags), ","))
	}
	tw.Flush()
	for line := range strings.Lines(b.String()) {
		ui.info("%s", strings.TrimRight(line, " \n"))
	}
	return 0
}
