package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"text/tabwriter"

	consulapi "github.com/hashicorp/consul/api"
)

const kvGetHelp = `
Usage: muster kv get [options] [KEY_OR_PREFIX]

  Retrieves the value at the given key. If no key exists with that name, an
  error is returned. With -recurse, lists every key-value pair under the
  prefix as "key:value" lines; with -keys, lists only the keys (up to the next
  -separator). -detailed prints the key's metadata as well.

      $ muster kv get redis/config/connections
      $ muster kv get -recurse redis/
      $ muster kv get -keys -separator=/ redis/
`

// kvGetFlags are `muster kv get`'s flags.
type kvGetFlags struct {
	http      httpFlags
	base64    bool
	detailed  bool
	keys      bool
	recurse   bool
	separator string
}

// runKVGet is `muster kv get`, Consul's `consul kv get`. It exits 1 when
// the key does not exist (-recurse and -keys list nothing and exit 0).
func runKVGet(ctx context.Context, ui *UI, args []string) int {
	var f kvGetFlags
	fs := newFlagSet("kv get", kvGetHelp, ui)
	fs.BoolVar(&f.base64, "base64", false, "Base64 encode the value.")
	fs.BoolVar(&f.detailed, "detailed", false, "Print the key's metadata (indexes, flags, session) as well as its value.")
	fs.BoolVar(&f.keys, "keys", false, "List keys which start with the given prefix, but not their values.")
	fs.BoolVar(&f.recurse, "recurse", false, "Recursively look at all keys prefixed with the given path.")
	fs.StringVar(&f.separator, "separator", "/", "String at which -keys stops listing a key (the rest is folded into one entry).")
	f.http.addClientFlags(fs)
	f.http.addServerFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	key, ok := optionalKey(ui, fs.Args())
	if !ok {
		return 1
	}
	if key == "" && !f.recurse && !f.keys {
		ui.error("Error! Missing KEY argument")
		return 1
	}
	c, ok := f.http.connect(ui)
	if !ok {
		return 1
	}
	kv, q := c.KV(), f.http.queryOptions(ctx)
	switch {
	case f.keys:
		keys, _, err := kv.Keys(key, f.separator, q)
		if err != nil {
			ui.error("Error querying muster agent: %s", err)
			return 1
		}
		for _, k := range keys {
			ui.info("%s", k)
		}
	case f.recurse:
		pairs, _, err := kv.List(key, q)
		if err != nil {
			ui.error("Error querying muster agent: %s", err)
			return 1
		}
		for i, p := range pairs {
			if f.detailed {
				if i > 0 {
					ui.info("")
				}
				writeKVDetailed(ui.Out, p, f.base64)
				continue
			}
			ui.info("%s:%s", p.Key, formatValue(p.Value, f.base64))
		}
	default:
		p, _, err := kv.Get(key, q)
		if err != nil {
			ui.error("Error querying muster agent: %s", err)
			return 1
		}
		if p == nil {
			ui.error("Error! No key exists at: %s", key)
			return 1
		}
		if f.detailed {
			writeKVDetailed(ui.Out, p, f.base64)
			return 0
		}
		ui.info("%s", formatValue(p.Value, f.base64))
	}
	return 0
}

// formatValue is v as kv get prints it: raw bytes, or base64 when asked.
func formatValue(v []byte, b64 bool) string {
	if b64 {
		return base64.StdEncoding.EncodeToString(v)
	}
	return string(v)
}

// writeKVDetailed writes p in Consul's -detailed layout: one "Field  value"
// line per field, aligned by text/tabwriter with Consul's settings, and a
// "-" for no session.
func writeKVDetailed(w io.Writer, p *consulapi.KVPair, b64 bool) {
	session := p.Session
	if session == "" {
		session = "-"
	}
	tw := tabwriter.NewWriter(w, 0, 2, 6, ' ', 0)
	fmt.Fprintf(tw, "CreateIndex\t%d\n", p.CreateIndex)
	fmt.Fprintf(tw, "Flags\t%d\n", p.Flags)
	fmt.Fprintf(tw, "Key\t%s\n", p.Key)
	fmt.Fprintf(tw, "LockIndex\t%d\n", p.LockIndex)
	fmt.Fprintf(tw, "ModifyIndex\t%d\n", p.ModifyIndex)
	fmt.Fprintf(tw, "Session\t%s\n", session)
	fmt.Fprintf(tw, "Value\t%s\n", formatValue(p.Value, b64))
	tw.Flush()
}
