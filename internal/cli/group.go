package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// group is a command with subcommands (kv get, snapshot save), dispatched
// on the word after its name.
type group struct {
	help string // printed, with the subcommand list, when no subcommand matches
	subs map[string]command
}

// run runs the subcommand named by args[0]. As in Consul, a missing or
// unknown subcommand prints the group's help and exits 1; -h exits 0.
func (g group) run(ctx context.Context, ui *UI, args []string) int {
	if len(args) > 0 {
		if c, ok := g.subs[args[0]]; ok {
			return c.run(ctx, ui, args[1:])
		}
	}
	g.usage(ui.Err)
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		return 0
	}
	return 1
}

func (g group) usage(w io.Writer) {
	names := make([]string, 0, len(g.subs))
	for n := range g.subs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nSubcommands:\n", strings.TrimSpace(g.help))
	for _, n := range names {
		fmt.Fprintf(&b, "    %-10s %s\n", n, g.subs[n].synopsis)
	}
	fmt.Fprint(w, b.String())
}
