package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"path"
	"strings"

	consulapi "github.com/hashicorp/consul/api"
)

const kvImportHelp = `
Usage: muster kv import [options] [DATA]

  Writes the key-value pairs in DATA, JSON as "muster kv export" writes it.
  DATA "@path" reads a file, "-" reads stdin.

      $ muster kv import @filename.json
      $ cat filename.json | muster kv import -
      $ muster kv import -prefix=restored/ @filename.json
`

// runKVImport is `muster kv import`, Consul's `consul kv import`. It writes
// the entries one by one, in order, and stops at the first failure (the
// entries before it stay written).
func runKVImport(ctx context.Context, ui *UI, args []string) int {
	var hf httpFlags
	var prefix string
	fs := newFlagSet("kv import", kvImportHelp, ui)
	fs.StringVar(&prefix, "prefix", "", "Key prefix for imported data.")
	hf.addClientFlags(fs)
	hf.addServerFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	entries, ok := readEntries(ui, fs.Args())
	if !ok {
		return 1
	}
	c, ok := hf.connect(ui)
	if !ok {
		return 1
	}
	kv := c.KV()
	for _, e := range entries {
		value, err := base64.StdEncoding.DecodeString(e.Value)
		if err != nil {
			ui.error("Error base 64 decoding value for key %s: %s", e.Key, err)
			return 1
		}
		pair := &consulapi.KVPair{Key: joinKey(prefix, e.Key), Flags: e.Flags, Value: value}
		w := (&consulapi.WriteOptions{Namespace: e.Namespace}).WithContext(ctx)
		if _, err := kv.Put(pair, w); err != nil {
			ui.error("Error! Failed writing data for key %s: %s", pair.Key, err)
			return 1
		}
		ui.info("Imported: %s", pair.Key)
	}
	return 0
}

// readEntries reads and decodes the single DATA argument. It reports
// failures on ui and returns false.
func readEntries(ui *UI, args []string) ([]*kvEntry, bool) {
	switch len(args) {
	case 0:
		ui.error("Error! Missing DATA argument")
		return nil, false
	case 1:
	default:
		ui.error("Error! Too many arguments (expected 1, got %d)", len(args))
		return nil, false
	}
	if args[0] == "" {
		ui.error("Error! Empty DATA argument")
		return nil, false
	}
	data, ok := readDataArg(ui, args[0])
	if !ok {
		return nil, false
	}
	var entries []*kvEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		ui.error("Cannot unmarshal data: %s", err)
		return nil, false
	}
	return entries, true
}

// joinKey puts key under prefix as Consul's kv import -prefix does
// (path.Join), except that a folder key keeps its trailing "/" (path.Join
// would turn the folder "a/" into the plain key "a") and an empty prefix
// leaves the key as it is.
func joinKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	j := path.Join(prefix, key)
	if strings.HasSuffix(key, "/") && !strings.HasSuffix(j, "/") {
		j += "/"
	}
	return j
}
