package cli

import "context"

const joinHelp = `
Usage: muster join [options] ADDRESS...

  Tells a running muster agent to join the cluster by contacting at least one
  existing member at ADDRESS (host or host:port of its gossip port). Succeeds
  if any address answers.

      $ muster join 10.0.0.5
      $ muster join -wan 10.1.0.5:8302
`

// runJoin is `muster join`, Consul's `consul join`: one PUT
// /v1/agent/join/ADDRESS per address. It exits 0 when at least one join
// succeeded, 1 when none did. The Consul client's Join takes no context, so
// an interrupt does not cut a join short.
func runJoin(ctx context.Context, ui *UI, args []string) int {
	var hf httpFlags
	var wan bool
	fs := newFlagSet("join", joinHelp, ui)
	fs.BoolVar(&wan, "wan", false, "Joins a server to another server in the WAN pool.")
	hf.addClientFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	addrs := fs.Args()
	if len(addrs) == 0 {
		ui.error("At least one address to join must be specified.")
		ui.error("")
		fs.Usage()
		return 1
	}
	c, ok := hf.connect(ui)
	if !ok {
		return 1
	}
	joins := 0
	for _, addr := range addrs {
		if err := c.Agent().Join(addr, wan); err != nil {
			ui.error("Error joining address '%s': %s", addr, err)
			continue
		}
		joins++
	}
	if joins == 0 {
		ui.error("Failed to join any nodes.")
		return 1
	}
	ui.info("Successfully joined cluster by contacting %d nodes.", joins)
	return 0
}
