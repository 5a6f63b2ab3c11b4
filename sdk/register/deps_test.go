package register_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportFence keeps the SDK public: the package must not import muster's
// internal packages or the testing package.
func TestImportFence(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH: cannot list dependencies")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for dep := range strings.FieldsSeq(string(out)) {
		if strings.HasPrefix(dep, "github.com/musterhq/muster/internal/") || dep == "testing" {
			t.Errorf("imports %s", dep)
		}
	}
}
