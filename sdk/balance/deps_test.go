package balance_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportFence keeps the package usable anywhere: it depends on the
// standard library only (no muster internals, no Consul api, no testing).
func TestImportFence(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH: cannot list dependencies")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		path, std, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch {
		case path == "github.com/musterhq/muster/sdk/balance":
		case std != "true":
			t.Errorf("imports %s, outside the standard library", path)
		case path == "testing":
			t.Errorf("imports testing")
		}
	}
}
