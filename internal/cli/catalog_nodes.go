package cli

import (
	"context"
	"sort"
	"strings"

	consulapi "github.com/hashicorp/consul/api"
)

const catalogNodesHelp = `
Usage: muster catalog nodes [options]

  Lists the nodes in the catalog: name, ID (its first part; all of it with
  -detailed), address and datacenter, in a table. -detailed adds the tagged
  addresses and node metadata. Exits 0, with a note on stderr, when no node
  matches.

      $ muster catalog nodes
      $ muster catalog nodes -detailed
      $ muster catalog nodes -service=web
      $ muster catalog nodes -node-meta=rack=r1
      $ muster catalog nodes -filter='Meta.rack == "r1"'

  -near is accepted for compatibility and ignored: muster keeps no network
  coordinates, so nodes are listed by name.
`

// catalogNodesFlags are `muster catalog nodes`'s flags.
type catalogNodesFlags struct {
	http     httpFlags
	detailed bool
	near     string
	nodeMeta mapFlag
	service  string
	filter   string
}

// runCatalogNodes is `muster catalog nodes`, Consul's `consul catalog
// nodes`.
func runCatalogNodes(ctx context.Context, ui *UI, args []string) int {
	var f catalogNodesFlags
	fs := newFlagSet("catalog nodes", catalogNodesHelp, ui)
	fs.BoolVar(&f.detailed, "detailed", false, "Output detailed information about the nodes including their addresses and metadata.")
	fs.StringVar(&f.near, "near", "", "Accepted for compatibility with Consul and ignored: muster has no network coordinates.")
	fs.Var(&f.nodeMeta, "node-meta", "Only list nodes with this metadata, as `key=value`. May be given more than once.")
	fs.StringVar(&f.service, "service", "", "Only list nodes providing the service with this `name`.")
	fs.StringVar(&f.filter, "filter", "", "Filter `expression` over the nodes (over the service instances with -service); \"@file\" reads it from a file, \"-\" from stdin.")
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
	var nodes []*consulapi.Node
	if f.service != "" {
		insts, _, err := c.Catalog().Service(f.service, "", q)
		if err != nil {
			ui.error("Error listing nodes for service: %s", err)
			return 1
		}
		nodes = instanceNodes(insts)
	} else {
		var err error
		if nodes, _, err = c.Catalog().Nodes(q); err != nil {
			ui.error("Error listing nodes: %s", err)
			return 1
		}
	}
	if len(nodes) == 0 {
		ui.error("No nodes match the given query - try expanding your search.")
		return 0
	}
	writeColumns(ui.Out, nodeRows(nodes, f.detailed))
	return 0
}

// instanceNodes is the nodes the service instances run on, once each, in
// order. (Consul's command lists a node once per instance.)
func instanceNodes(insts []*consulapi.CatalogService) []*consulapi.Node {
	var nodes []*consulapi.Node
	seen := map[string]bool{}
	for _, s := range insts {
		if seen[s.Node] {
			continue
		}
		seen[s.Node] = true
		nodes = append(nodes, &consulapi.Node{
			ID: s.ID, Node: s.Node, Address: s.Address, Datacenter: s.Datacenter,
			TaggedAddresses: s.TaggedAddresses, Meta: s.NodeMeta,
			CreateIndex: s.CreateIndex, ModifyIndex: s.ModifyIndex,
		})
	}
	return nodes
}

// nodeRows is Consul's nodes table: Node, ID (up to its first "-" unless
// detailed), Address and DC, plus TaggedAddresses and Meta when detailed.
func nodeRows(nodes []*consulapi.Node, detailed bool) [][]string {
	header := []string{"Node", "ID", "Address", "DC"}
	if detailed {
		header = append(header, "TaggedAddresses", "Meta")
	}
	rows := [][]string{header}
	for _, n := range nodes {
		if detailed {
			rows = append(rows, []string{n.Node, n.ID, n.Address, n.Datacenter,
				joinPairs(n.TaggedAddresses, ", "), joinPairs(n.Meta, ", ")})
			continue
		}
		id := n.ID
		if i := strings.Index(id, "-"); i > 0 {
			id = id[:i]
		}
		rows = append(rows, []string{n.Node, id, n.Address, n.Datacenter})
	}
	return rows
}

// joinPairs is m as "k=v" pairs sorted by key and joined by sep.
func joinPairs(m map[string]string, sep string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + m[k]
	}
	return strings.Join(pairs, sep)
}
