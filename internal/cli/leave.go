package cli

import "context"

const leaveHelp = `
Usage: muster leave [options]

  Causes the agent to gracefully leave the cluster and shut down.
`

// runLeave is `muster leave`, Consul's `consul leave`: PUT /v1/agent/leave.
// Consul prints the help after unexpected arguments on stdout; muster, as
// for every other usage error, on stderr.
func runLeave(ctx context.Context, ui *UI, args []string) int {
	var hf httpFlags
	fs := newFlagSet("leave", leaveHelp, ui)
	hf.addClientFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if extra := fs.Args(); len(extra) > 0 {
		ui.error("Error found unexpected args: %v", extra)
		fs.Usage()
		return 1
	}
	c, ok := hf.connect(ui)
	if !ok {
		return 1
	}
	if err := c.Agent().Leave(); err != nil {
		ui.error("Error leaving: %s", err)
		return 1
	}
	ui.info("Graceful leave complete")
	return 0
}
