package cli

import (
	"context"
	"encoding/base64"

	consulapi "github.com/hashicorp/consul/api"
)

const kvPutHelp = `
Usage: muster kv put [options] KEY [DATA]

  Writes the data to the given key. DATA "@path" reads a file, "-" reads
  stdin; without DATA the key is written empty.

      $ muster kv put config/redis/maxconns 5
      $ muster kv put config/program/license @license.lic
      $ echo "abcd1234" | muster kv put config/program/license -
      $ muster kv put -cas -modify-index=844 config/redis/maxconns 5
`

// kvPutFlags are `muster kv put`'s flags.
type kvPutFlags struct {
	http        httpFlags
	cas         bool
	flags       uint64
	base64      bool
	modifyIndex uint64
	session     string
	acquire     bool
	release     bool
}

// runKVPut is `muster kv put`, Consul's `consul kv put`. It exits 1 when
// a -cas, -acquire or -release write is refused.
func runKVPut(ctx context.Context, ui *UI, args []string) int {
	var f kvPutFlags
	fs := newFlagSet("kv put", kvPutHelp, ui)
	fs.BoolVar(&f.cas, "cas", false, "Perform a Check-And-Set operation; requires -modify-index.")
	fs.Uint64Var(&f.flags, "flags", 0, "Unsigned integer to store with the key; muster does not read it.")
	fs.BoolVar(&f.base64, "base64", false, "Treat the data as base 64 encoded.")
	fs.Uint64Var(&f.modifyIndex, "modify-index", 0, "The ModifyIndex the key must have for -cas to write.")
	fs.StringVar(&f.session, "session", "", "Session ID to lock the key with (-acquire) or to unlock it (-release).")
	fs.BoolVar(&f.acquire, "acquire", false, "Obtain a lock on the key for -session, creating the key if needed.")
	fs.BoolVar(&f.release, "release", false, "Forfeit the lock -session holds on the key.")
	f.http.addClientFlags(fs)
	f.http.addServerFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	pair, ok := f.pair(ui, fs.Args())
	if !ok {
		return 1
	}
	if (f.release || f.acquire) && f.session == "" {
		ui.error("Error! Missing -session (required with -acquire and -release)")
		return 1
	}
	if f.cas && f.modifyIndex == 0 {
		ui.error("Must specify -modify-index with -cas!")
		return 1
	}
	c, ok := f.http.connect(ui)
	if !ok {
		return 1
	}
	kv, w, key := c.KV(), f.http.writeOptions(ctx), pair.Key
	switch {
	case f.cas:
		ok, _, err := kv.CAS(pair, w)
		if err != nil {
			ui.error("Error! Did not write to %s: %s", key, err)
			return 1
		}
		if !ok {
			ui.error("Error! Did not write to %s: CAS failed", key)
			return 1
		}
		ui.info("Success! Data written to: %s", key)
	case f.acquire:
		ok, _, err := kv.Acquire(pair, w)
		if err != nil {
			ui.error("Error! Failed writing data: %s", err)
			return 1
		}
		if !ok {
			ui.error("Error! Did not acquire lock")
			return 1
		}
		ui.info("Success! Lock acquired on: %s", key)
	case f.release:
		ok, _, err := kv.Release(pair, w)
		if err != nil {
			ui.error("Error! Failed writing data: %s", err)
			return 1
		}
		if !ok {
			ui.error("Error! Did not release lock")
			return 1
		}
		ui.info("Success! Lock released on: %s", key)
	default:
		if _, err := kv.Put(pair, w); err != nil {
			ui.error("Error! Failed writing data: %s", err)
			return 1
		}
		ui.info("Success! Data written to: %s", key)
	}
	return 0
}

// pair builds the entry to write from KEY [DATA] and the flags. It reports
// bad arguments on ui and returns false.
func (f *kvPutFlags) pair(ui *UI, args []string) (*consulapi.KVPair, bool) {
	switch len(args) {
	case 0:
		ui.error("Error! Missing KEY argument")
		return nil, false
	case 1, 2:
	default:
		ui.error("Error! Too many arguments (expected 1 or 2, got %d)", len(args))
		return nil, false
	}
	var data []byte
	if len(args) == 2 {
		var ok bool
		if data, ok = readDataArg(ui, args[1]); !ok {
			return nil, false
		}
	}
	if f.base64 {
		b, err := base64.StdEncoding.DecodeString(string(data))
		if err != nil {
			ui.error("Error! Cannot base 64 decode data: %s", err)
			return nil, false
		}
		data = b
	}
	return &consulapi.KVPair{
		Key:         args[0],
		ModifyIndex: f.modifyIndex,
		Flags:       f.flags,
		Value:       data,
		Session:     f.session,
	}, true
}
