// Package cli implements the muster command line. Every command except
// `agent` talks to an agent only through the public client in package api,
// as Consul's commands do, so every command also exercises the SDK.
package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// UI is where a command writes.
type UI struct {
	Out io.Writer
	Err io.Writer
}

// command is one subcommand. Run returns the process exit code: 0 success,
// 1 failure, as Consul's commands.
type command struct {
	synopsis string
	run      func(ctx context.Context, ui *UI, args []string) int
}

func commands() map[string]command {
	return map[string]command{
		"agent":       {"Runs a muster agent", runAgent},
		"catalog":     {"Interact with the catalog", catalogGroup().run},
		"force-leave": {"Forces a member of the cluster to enter the \"left\" state", runForceLeave},
		"join":        {"Tell a muster agent to join the cluster", runJoin},
		"keygen":      {"Generates a new encryption key", runKeygen},
		"kv":          {"Interact with the key-value store", kvGroup().run},
		"leave":       {"Gracefully leaves the muster cluster and shuts down", runLeave},
		"lock":        {"Execute a command holding a lock", runLock},
		"members":     {"Lists the members of a muster cluster", runMembers},
		"operator":    {"Provides cluster-level tools for muster operators", operatorGroup().run},
		"services":    {"Interact with services", servicesGroup().run},
		"snapshot":    {"Saves and restores snapshots of muster server state", snapshotGroup().run},
		"version":     {"Prints the muster version", runVersion},
		"watch":       {"Watch for changes in muster", runWatch},
	}
}

// Run runs the command named by args[0] and returns the exit code.
func Run(ctx context.Context, ui *UI, args []string) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(ui.Err, cmds)
		if len(args) == 0 {
			return 1
		}
		return 0
	}
	if args[0] == "-v" || args[0] == "--version" || args[0] == "-version" {
		args = []string{"version"}
	}
	c, ok := cmds[args[0]]
	if !ok {
		// Two-word commands (kv get, snapshot save) are dispatched by their
		// first word; an unknown word is a usage error.
		fmt.Fprintf(ui.Err, "muster: unknown command %q\n\n", args[0])
		usage(ui.Err, cmds)
		return 1
	}
	return c.run(ctx, ui, args[1:])
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("Usage: muster [--version] [--help] <command> [<args>]\n\nAvailable commands are:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "    %-12s %s\n", n, cmds[n].synopsis)
	}
	fmt.Fprint(w, b.String())
}
