package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"

	consulapi "github.com/hashicorp/consul/api"
)

const kvExportHelp = `
Usage: muster kv export [options] [KEY_OR_PREFIX]

  Writes the key-value pairs under the prefix to stdout as JSON, in the
  format "muster kv import" (and "consul kv import") reads.

      $ muster kv export vault
`

// kvEntry is one pair in kv export / import's JSON, Consul's
// command/kv/impexp.Entry: the value is base64.
type kvEntry struct {
	Key       string `json:"key"`
	Flags     uint64 `json:"flags"`
	Value     string `json:"value"`
	Namespace string `json:"namespace,omitempty"`
	Partition string `json:"partition,omitempty"`
}

func toEntry(p *consulapi.KVPair) *kvEntry {
	return &kvEntry{
		Key:       p.Key,
		Flags:     p.Flags,
		Value:     base64.StdEncoding.EncodeToString(p.Value),
		Namespace: p.Namespace,
		Partition: p.Partition,
	}
}

// runKVExport is `muster kv export`, Consul's `consul kv export`: the pairs
// under the prefix as a tab-indented JSON array of kvEntry.
func runKVExport(ctx context.Context, ui *UI, args []string) int {
	var hf httpFlags
	fs := newFlagSet("kv export", kvExportHelp, ui)
	hf.addClientFlags(fs)
	hf.addServerFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	prefix, ok := optionalKey(ui, fs.Args())
	if !ok {
		return 1
	}
	c, ok := hf.connect(ui)
	if !ok {
		return 1
	}
	pairs, _, err := c.KV().List(prefix, hf.queryOptions(ctx))
	if err != nil {
		ui.error("Error querying muster agent: %s", err)
		return 1
	}
	entries := make([]*kvEntry, len(pairs))
	for i, p := range pairs {
		entries[i] = toEntry(p)
	}
	b, err := json.MarshalIndent(entries, "", "\t")
	if err != nil {
		ui.error("Error exporting KV data: %s", err)
		return 1
	}
	ui.info("%s", b)
	return 0
}
