package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/musterhq/muster/internal/gossip"
)

// runKeygen prints a new gossip encryption key (base64 of 32 random bytes),
// for -encrypt / "encrypt", as `consul keygen` does.
func runKeygen(ctx context.Context, ui *UI, args []string) int {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(ui.Err)
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(ui.Err, "This command takes no arguments")
		return 1
	}
	key, err := gossip.GenerateKey()
	if err != nil {
		fmt.Fprintf(ui.Err, "Error generating key: %s\n", err)
		return 1
	}
	fmt.Fprintln(ui.Out, key)
	return 0
}
