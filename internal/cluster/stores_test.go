package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// Each backend stores and reads back log entries across a reopen; a data
// directory keeps the backend it was created with, and the other one is
// refused rather than opened empty.
func TestOpenLog(t *testing.T) {
	for _, backend := range []string{"boltdb", "wal"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			st, err := openLog(dir, backend)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.logs.StoreLogs([]*raft.Log{{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("a")},
				{Index: 2, Term: 1, Type: raft.LogCommand, Data: []byte("b")}}); err != nil {
				t.Fatal(err)
			}
			if err := st.stable.SetUint64([]byte("CurrentTerm"), 1); err != nil {
				t.Fatal(err)
			}
			if err := st.close(); err != nil {
				t.Fatal(err)
			}

			other := map[string]string{"boltdb": "wal", "wal": "boltdb"}[backend]
			if _, err := openLog(dir, other); err == nil || !strings.Contains(err.Error(), "raft_logstore.backend") {
				t.Fatalf("opening a %s log as %s: %v, want a refusal naming raft_logstore.backend", backend, other, err)
			}

			st, err = openLog(dir, backend)
			if err != nil {
				t.Fatal(err)
			}
			defer st.close()
			var l raft.Log
			if err := st.logs.GetLog(2, &l); err != nil || string(l.Data) != "b" {
				t.Fatalf("entry 2 after reopen: %+v %v", l, err)
			}
			if term, err := st.stable.GetUint64([]byte("CurrentTerm")); err != nil || term != 1 {
				t.Fatalf("term after reopen: %d %v", term, err)
			}
		})
	}
	// The default: a new directory gets a WAL, an existing log keeps its
	// backend.
	for _, existing := range []string{"boltdb", "wal"} {
		dir := t.TempDir()
		st, err := openLog(dir, existing)
		if err != nil {
			t.Fatal(err)
		}
		st.close()
		st, err = openLog(dir, "")
		if err != nil {
			t.Fatalf("default backend on a %s log: %v", existing, err)
		}
		st.close()
		if _, err := os.Stat(filepath.Join(dir, "raft.db")); (err == nil) != (existing == "boltdb") {
			t.Fatalf("default backend on a %s log opened the other one", existing)
		}
	}
	dir := t.TempDir()
	st, err := openLog(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	st.close()
	if _, err := os.Stat(filepath.Join(dir, "wal")); err != nil {
		t.Fatalf("a new directory's default log is not a WAL: %v", err)
	}
	if _, err := openLog(t.TempDir(), "rocksdb"); err == nil {
		t.Fatal("an unknown backend was opened")
	}
}
