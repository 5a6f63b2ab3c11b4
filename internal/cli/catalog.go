package cli

import "context"

// catalogGroup is `muster catalog`, Consul's `consul catalog`.
func catalogGroup() group {
	return group{help: catalogHelp, subs: map[string]command{
		"datacenters": {"Lists all known datacenters", runCatalogDatacenters},
		"nodes":       {"Lists all nodes in the given datacenter", runCatalogNodes},
		"services":    {"Lists all registered services in a datacenter", runCatalogServices},
	}}
}

const catalogHelp = `
Usage: muster catalog <subcommand> [options] [args]

  This command has subcommands for reading the catalog: the datacenters,
  nodes and services the servers know of (not to be confused with the
  services registered with one agent).

      $ muster catalog datacenters
      $ muster catalog nodes
      $ muster catalog nodes -service=redis
      $ muster catalog services -tags
`

const catalogDatacentersHelp = `
Usage: muster catalog datacenters [options]

  Lists the known datacenters, one a line. A muster cluster serves a single
  datacenter, so this is the agent's own.
`

// noArgs reports extra arguments to a command that takes none, with
// Consul's message, and returns false if there were any.
func noArgs(ui *UI, args []string) bool {
	if len(args) > 0 {
		ui.error("Too many arguments (expected 0, got %d)", len(args))
		return false
	}
	return true
}

// filterArg resolves a -filter value as Consul's catalog commands do
// (helpers.LoadDataSource): "@path" is the file's contents, "-" is stdin,
// anything else the expression itself. It reports a failure on ui and
// returns false.
func filterArg(ui *UI, arg string) (string, bool) {
	if arg == "" {
		return "", true
	}
	b, ok := readDataArg(ui, arg)
	return string(b), ok
}

// runCatalogDatacenters is `muster catalog datacenters`, Consul's `consul
// catalog datacenters`. Unlike Consul's, which prints the error and exits
// 0, it exits 1 when the agent cannot be asked.
func runCatalogDatacenters(ctx context.Context, ui *UI, args []string) int {
	var hf httpFlags
	fs := newFlagSet("catalog datacenters", catalogDatacentersHelp, ui)
	hf.addClientFlags(fs)
	hf.addServerFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !noArgs(ui, fs.Args()) {
		return 1
	}
	c, ok := hf.connect(ui)
	if !ok {
		return 1
	}
	dcs, err := c.Catalog().Datacenters()
	if err != nil {
		ui.error("Error listing datacenters: %s", err)
		return 1
	}
	for _, dc := range dcs {
		ui.info("%s", dc)
	}
	return 0
}
