package cli

import (
	"io"
	"os"
	"strings"
)

// kvGroup is `muster kv`, Consul's `consul kv`.
func kvGroup() group {
	return group{help: kvHelp, subs: map[string]command{
		"get":    {"Retrieves or lists data from the KV store", runKVGet},
		"put":    {"Sets or updates data in the KV store", runKVPut},
		"delete": {"Removes data from the KV store", runKVDelete},
		"export": {"Exports a tree from the KV store as JSON", runKVExport},
		"import": {"Imports a tree stored as JSON to the KV store", runKVImport},
	}}
}

const kvHelp = `
Usage: muster kv <subcommand> [options] [args]

  This command has subcommands for interacting with the key-value store.

  Create or update the key named "redis/config/connections" with the value "5":

      $ muster kv put redis/config/connections 5

  Read this value back:

      $ muster kv get redis/config/connections

  Or get detailed key information:

      $ muster kv get -detailed redis/config/connections

  Finally, delete the key:

      $ muster kv delete redis/config/connections
`

// optionalKey returns the single KEY_OR_PREFIX argument, "" when there is
// none, with one leading "/" removed (keys never start with one; users type
// it anyway), as Consul's kv get, delete and export do. It reports "too many
// arguments" on ui and returns false when there are more.
func optionalKey(ui *UI, args []string) (string, bool) {
	switch len(args) {
	case 0:
		return "", true
	case 1:
		return strings.TrimPrefix(args[0], "/"), true
	default:
		ui.error("Too many arguments (expected 1, got %d)", len(args))
		return "", false
	}
}

// readDataArg resolves a DATA argument as Consul does: "@path" is the file's
// contents, "-" is all of stdin, anything else (including "-x") is the data
// itself. It reports a failure on ui and returns false.
func readDataArg(ui *UI, arg string) ([]byte, bool) {
	switch {
	case strings.HasPrefix(arg, "@"):
		b, err := os.ReadFile(arg[1:])
		if err != nil {
			ui.error("Error! Failed to read file: %s", err)
			return nil, false
		}
		return b, true
	case arg == "-":
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			ui.error("Error! Failed to read stdin: %s", err)
			return nil, false
		}
		return b, true
	default:
		return []byte(arg), true
	}
}
