package cli

import (
	"context"

	consulapi "github.com/hashicorp/consul/api"
)

const forceLeaveHelp = `
Usage: muster force-leave [options] NODE

  Forces a member of the cluster to enter the "left" state. If the member is
  still alive, it will eventually rejoin the cluster. This is most useful for
  cleaning out "failed" nodes that are never coming back; otherwise the agents
  keep trying to reconnect to them for a while before reaping them.

      $ muster force-leave node-3
      $ muster force-leave -prune node-3
`

// runForceLeave is `muster force-leave`, Consul's `consul force-leave`: PUT
// /v1/agent/force-leave/NODE, with ?prune=1 and ?wan=1 for -prune and -wan.
// It prints nothing on success.
func runForceLeave(ctx context.Context, ui *UI, args []string) int {
	var hf httpFlags
	var opts consulapi.ForceLeaveOpts
	fs := newFlagSet("force-leave", forceLeaveHelp, ui)
	fs.BoolVar(&opts.Prune, "prune", false, "Remove agent completely from list of members")
	fs.BoolVar(&opts.WAN, "wan", false, "Exclusively leave the agent from the WAN serf pool.")
	hf.addClientFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	nodes := fs.Args()
	if len(nodes) != 1 {
		ui.error("A single node name must be specified to force leave.")
		ui.error("")
		fs.Usage()
		return 1
	}
	c, ok := hf.connect(ui)
	if !ok {
		return 1
	}
	if err := c.Agent().ForceLeaveOptions(nodes[0], opts, hf.queryOptions(ctx)); err != nil {
		ui.error("Error force leaving: %s", err)
		return 1
	}
	return 0
}
