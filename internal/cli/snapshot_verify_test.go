package cli

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestVerifySnapshotFile(t *testing.T) {
	type testcase struct {
		data    string
		wantErr bool
	}
	run := func(t *testing.T, tc testcase) {
		file := filepath.Join(t.TempDir(), "snap")
		if err := os.WriteFile(file, []byte(tc.data), 0o600); err != nil {
			t.Fatal(err)
		}
		err := verifySnapshotFile(file)
		if tc.wantErr != (err != nil) {
			t.Fatalf("verify = %v, want error %v", err, tc.wantErr)
		}
		if err != nil && !errors.Is(err, errBadSnapshot) {
			t.Errorf("verify = %v, want errBadSnapshot", err)
		}
	}
	cases := map[string]testcase{
		"header only":     {data: `{"t":"muster-state-v1"}` + "\n"},
		"header and rows": {data: `{"t":"muster-state-v1"}` + "\n" + `{"t":"kvs","v":{"Key":"a"}}` + "\n"},
		"empty":           {data: "", wantErr: true},
		"other format":    {data: `{"t":"raft"}` + "\n", wantErr: true},
		"truncated row":   {data: `{"t":"muster-state-v1"}` + "\n" + `{"t":"kvs","v":{"Ke`, wantErr: true},
		"row without t":   {data: `{"t":"muster-state-v1"}` + "\n" + `{"v":1}` + "\n", wantErr: true},
		"not json":        {data: "PK\x03\x04", wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}
