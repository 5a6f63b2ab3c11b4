package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// snapshotGroup is `muster snapshot`, Consul's `consul snapshot`.
func snapshotGroup() group {
	return group{help: snapshotHelp, subs: map[string]command{
		"save":    {"Saves snapshot of muster server state", runSnapshotSave},
		"restore": {"Restores snapshot of muster server state", runSnapshotRestore},
	}}
}

const snapshotHelp = `
Usage: muster snapshot <subcommand> [options] [args]

  Saves and restores atomic, point-in-time snapshots of the servers' state:
  key/value entries, sessions, locks and the catalog.

      $ muster snapshot save backup.snap
      $ muster snapshot restore backup.snap
`

const snapshotSaveHelp = `
Usage: muster snapshot save [options] FILE

  Retrieves a point-in-time snapshot of the servers' state from the leader
  (any server with -stale), verifies it and writes it to FILE.
`

const snapshotRestoreHelp = `
Usage: muster snapshot restore [options] FILE

  Replaces the servers' whole state with the snapshot in FILE.
`

// fileArg returns the single FILE argument, reporting a missing or extra one
// on ui with Consul's messages.
func fileArg(ui *UI, args []string) (string, bool) {
	switch len(args) {
	case 0:
		ui.error("Missing FILE argument")
		return "", false
	case 1:
		return args[0], true
	default:
		ui.error("Too many arguments (expected 1, got %d)", len(args))
		return "", false
	}
}

// runSnapshotSave is `muster snapshot save`, Consul's `consul snapshot
// save`: FILE is written only once the snapshot has been read back whole.
func runSnapshotSave(ctx context.Context, ui *UI, args []string) int {
	var hf httpFlags
	fs := newFlagSet("snapshot save", snapshotSaveHelp, ui)
	hf.addClientFlags(fs)
	hf.addServerFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	file, ok := fileArg(ui, fs.Args())
	if !ok {
		return 1
	}
	c, ok := hf.connect(ui)
	if !ok {
		return 1
	}
	snap, qm, err := c.Snapshot().Save(hf.queryOptions(ctx))
	if err != nil {
		ui.error("Error saving snapshot: %s", err)
		return 1
	}
	defer snap.Close()
	// As Consul: write FILE.unverified, read it back to verify, and only
	// then rename it to FILE, so FILE is never a partial snapshot.
	unverified := file + ".unverified"
	if err := writeFileSync(unverified, snap); err != nil {
		ui.error("Error writing unverified snapshot file: %s", err)
		return 1
	}
	defer os.Remove(unverified)
	if err := verifySnapshotFile(unverified); err != nil {
		ui.error("Error verifying snapshot file: %s", err)
		return 1
	}
	if err := os.Rename(unverified, file); err != nil {
		ui.error("Error renaming %q to %q: %v", unverified, file, err)
		return 1
	}
	ui.info("Saved and verified snapshot to index %d", qm.LastIndex)
	return 0
}

// runSnapshotRestore is `muster snapshot restore`, Consul's `consul snapshot
// restore`: it replaces the servers' whole state with FILE's.
func runSnapshotRestore(ctx context.Context, ui *UI, args []string) int {
	var hf httpFlags
	fs := newFlagSet("snapshot restore", snapshotRestoreHelp, ui)
	hf.addClientFlags(fs)
	hf.addServerFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	file, ok := fileArg(ui, fs.Args())
	if !ok {
		return 1
	}
	c, ok := hf.connect(ui)
	if !ok {
		return 1
	}
	f, err := os.Open(file)
	if err != nil {
		ui.error("Error opening snapshot file: %s", err)
		return 1
	}
	defer f.Close()
	if err := c.Snapshot().Restore(hf.writeOptions(ctx), f); err != nil {
		ui.error("Error restoring snapshot: %s", err)
		return 1
	}
	ui.info("Restored snapshot")
	return 0
}

// writeFileSync writes r to a new file at name (mode 0600, as snapshots hold
// secrets) and syncs it to disk.
func writeFileSync(name string, r io.Reader) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// snapshotFormatPrefix starts the header record of muster's snapshot stream
// ({"t":"muster-state-v1"}, written by the server's state store).
const snapshotFormatPrefix = "muster-state-"

// errBadSnapshot means a saved snapshot did not read back as one.
var errBadSnapshot = errors.New("cli: not a muster snapshot")

// verifySnapshotFile checks that the file reads back as a whole muster
// snapshot: a stream of JSON records, each naming its table in "t", the
// first being the format header. Consul checks its archive's SHA-256 sums
// here; muster's stream carries none, so a truncated or garbled write is
// what this catches.
func verifySnapshotFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReader(f))
	for n := 0; ; n++ {
		var rec struct {
			T string `json:"t"`
		}
		err := dec.Decode(&rec)
		switch {
		case errors.Is(err, io.EOF) && n > 0:
			return nil
		case errors.Is(err, io.EOF):
			return fmt.Errorf("%w: empty", errBadSnapshot)
		case err != nil:
			return fmt.Errorf("%w: record %d: %v", errBadSnapshot, n, err)
		case n == 0 && !strings.HasPrefix(rec.T, snapshotFormatPrefix):
			return fmt.Errorf("%w: header %q", errBadSnapshot, rec.T)
		case rec.T == "":
			return fmt.Errorf("%w: record %d names no table", errBadSnapshot, n)
		}
	}
}
