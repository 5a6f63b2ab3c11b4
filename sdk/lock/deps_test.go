package lock_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportFence keeps the SDK public: no lock package may import muster's
// internal packages, and the shipped ones must not pull in the test helpers.
func TestImportFence(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH: cannot list dependencies")
	}
	const module = "github.com/musterhq/muster/"
	cases := map[string]struct {
		pkg       string
		forbidden []string // import path prefixes
	}{
		"lock":       {pkg: ".", forbidden: []string{module + "internal/", module + "sdk/lock/locktest", "testing"}},
		"redislock":  {pkg: "./redislock", forbidden: []string{module + "internal/", module + "sdk/lock/locktest", "testing"}},
		"musterlock": {pkg: "./musterlock", forbidden: []string{module + "internal/", module + "sdk/lock/locktest", "testing"}},
		"locktest":   {pkg: "./locktest", forbidden: []string{module + "internal/"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", tc.pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", tc.pkg, err)
			}
			for dep := range strings.FieldsSeq(string(out)) {
				for _, f := range tc.forbidden {
					if dep == f || strings.HasPrefix(dep, f) && strings.HasSuffix(f, "/") {
						t.Errorf("%s imports %s", tc.pkg, dep)
					}
				}
			}
		})
	}
}
