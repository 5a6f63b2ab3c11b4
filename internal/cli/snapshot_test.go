package cli_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/musterhq/muster/internal/testagent"
)

func TestSnapshotSaveRestoreRoundTrip(t *testing.T) {
	a := testagent.Start(t)
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "backup.snap")
	put(t, a.Client, "config/mode", "blue")
	index := get(t, a.Client, "config/mode").ModifyIndex

	save := runCLI(ctx, "snapshot", "save", "-http-addr="+a.Addr, file)
	var saved uint64
	if _, err := fmt.Sscanf(save.out, "Saved and verified snapshot to index %d\n", &saved); err != nil || save.code != 0 {
		t.Fatalf("save: exit %d, stdout %q, stderr %q", save.code, save.out, save.err)
	}
	if saved < index {
		t.Errorf("saved at index %d, before the write at %d", saved, index)
	}
	if _, err := os.Stat(file + ".unverified"); !os.IsNotExist(err) {
		t.Errorf("unverified file left behind: %v", err)
	}

	put(t, a.Client, "config/mode", "green")
	put(t, a.Client, "config/extra", "x")

	restore := runCLI(ctx, "snapshot", "restore", "-http-addr="+a.Addr, file)
	if restore.code != 0 || restore.out != "Restored snapshot\n" || restore.err != "" {
		t.Fatalf("restore: exit %d, stdout %q, stderr %q", restore.code, restore.out, restore.err)
	}
	testagent.WaitFor(t, 5*time.Second, "the restored value", func() bool {
		p, _, err := a.Client.KV().Get("config/mode", nil)
		return err == nil && p != nil && string(p.Value) == "blue"
	})
	if p := get(t, a.Client, "config/extra"); p != nil {
		t.Errorf("config/extra = %q after restore, want it gone", p.Value)
	}
	r := runCLI(ctx, "kv", "get", "-http-addr="+a.Addr, "config/mode")
	if r.out != "blue\n" {
		t.Errorf("kv get after restore = %q, want blue", r.out)
	}
}

func TestSnapshotErrors(t *testing.T) {
	a := testagent.Start(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.snap")
	if err := os.WriteFile(garbage, []byte("not a snapshot"), 0o600); err != nil {
		t.Fatal(err)
	}
	put(t, a.Client, "still", "here")
	type testcase struct {
		args    []string
		wantErr string
	}
	run := func(t *testing.T, tc testcase) {
		args := append([]string{"snapshot", tc.args[0], "-http-addr=" + a.Addr}, tc.args[1:]...)
		r := runCLI(context.Background(), args...)
		if r.code != 1 || r.out != "" || !strings.Contains(r.err, tc.wantErr) {
			t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %q", r.code, r.out, r.err, tc.wantErr)
		}
		if p := get(t, a.Client, "still"); p == nil {
			t.Error("state lost after a failed command")
		}
	}
	cases := map[string]testcase{
		"save without file":     {args: []string{"save"}, wantErr: "Missing FILE argument"},
		"save two files":        {args: []string{"save", "a", "b"}, wantErr: "Too many arguments (expected 1, got 2)"},
		"save into missing dir": {args: []string{"save", filepath.Join(dir, "no", "such.snap")}, wantErr: "Error writing unverified snapshot file"},
		"restore missing file":  {args: []string{"restore", filepath.Join(dir, "none.snap")}, wantErr: "Error opening snapshot file"},
		"restore garbage":       {args: []string{"restore", garbage}, wantErr: "Error restoring snapshot"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}
