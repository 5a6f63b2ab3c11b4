package cli

import (
	"context"

	consulapi "github.com/hashicorp/consul/api"
)

const kvDeleteHelp = `
Usage: muster kv delete [options] KEY_OR_PREFIX

  Removes the value at the given key. If no key exists there, nothing
  happens. With -recurse, removes every key that starts with the prefix.

      $ muster kv delete foo
      $ muster kv delete -recurse foo
`

// kvDeleteFlags are `muster kv delete`'s flags.
type kvDeleteFlags struct {
	http        httpFlags
	cas         bool
	modifyIndex uint64
	recurse     bool
}

// runKVDelete is `muster kv delete`, Consul's `consul kv delete`. Deleting
// a key that does not exist succeeds; a refused -cas delete exits 1.
func runKVDelete(ctx context.Context, ui *UI, args []string) int {
	var f kvDeleteFlags
	fs := newFlagSet("kv delete", kvDeleteHelp, ui)
	fs.BoolVar(&f.cas, "cas", false, "Perform a Check-And-Set operation; requires -modify-index.")
	fs.Uint64Var(&f.modifyIndex, "modify-index", 0, "The ModifyIndex the key must have for -cas to delete it.")
	fs.BoolVar(&f.recurse, "recurse", false, "Recursively delete all keys with the path.")
	f.http.addClientFlags(fs)
	f.http.addServerFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	key, ok := optionalKey(ui, fs.Args())
	if !ok || !f.valid(ui, key) {
		return 1
	}
	c, ok := f.http.connect(ui)
	if !ok {
		return 1
	}
	kv, w := c.KV(), f.http.writeOptions(ctx)
	switch {
	case f.recurse:
		if _, err := kv.DeleteTree(key, w); err != nil {
			ui.error("Error! Did not delete prefix %s: %s", key, err)
			return 1
		}
		ui.info("Success! Deleted keys with prefix: %s", key)
	case f.cas:
		ok, _, err := kv.DeleteCAS(&consulapi.KVPair{Key: key, ModifyIndex: f.modifyIndex}, w)
		if err != nil {
			ui.error("Error! Did not delete key %s: %s", key, err)
			return 1
		}
		if !ok {
			ui.error("Error! Did not delete key %s: CAS failed", key)
			return 1
		}
		ui.info("Success! Deleted key: %s", key)
	default:
		if _, err := kv.Delete(key, w); err != nil {
			ui.error("Error deleting key %s: %s", key, err)
			return 1
		}
		ui.info("Success! Deleted key: %s", key)
	}
	return 0
}

// valid reports, with Consul's messages, flag combinations kv delete
// refuses.
func (f *kvDeleteFlags) valid(ui *UI, key string) bool {
	switch {
	case key == "" && !f.recurse:
		ui.error("Error! Missing KEY argument")
	case f.cas && f.modifyIndex == 0:
		ui.error("Cannot delete a key that does not exist. Provide a -modify-index greater than than 0.")
	case f.modifyIndex != 0 && !f.cas:
		ui.error("Cannot specify -modify-index without -cas!")
	case f.recurse && f.cas:
		ui.error("Cannot specify both -cas and -recurse!")
	default:
		return true
	}
	return false
}
