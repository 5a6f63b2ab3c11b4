package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/musterhq/muster/internal/agent"
)

// versionInfo is `muster version -format=json`, with Consul's field names
// (test harnesses parse Version).
type versionInfo struct {
	Version    string
	Revision   string
	Prerelease string
	FIPS       string
	BuildDate  string
	RPC        struct{ Default, Min, Max int } `json:"RPC"`
	Product    string
}

func runVersion(ctx context.Context, ui *UI, args []string) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(ui.Err)
	format := fs.String("format", "pretty", "Output format: pretty or json")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	switch *format {
	case "json":
		v := versionInfo{Version: agent.Version, Product: "muster", BuildDate: "1970-01-01T00:00:01Z"}
		v.RPC.Default, v.RPC.Min, v.RPC.Max = 2, 2, 3
		b, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintln(ui.Out, string(b))
	case "pretty":
		fmt.Fprintf(ui.Out, "muster v%s\nProtocol 2 spoken by default, understands 2 to 3\n", agent.Version)
	default:
		fmt.Fprintf(ui.Err, "Invalid format: %s\n", *format)
		return 1
	}
	return 0
}
