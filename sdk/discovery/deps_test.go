package discovery_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportFence keeps the SDK public: discovery depends neither on
// muster's internals nor on gRPC (which only grpcresolver brings in), and
// grpcresolver not on the internals either.
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
		"discovery":    {pkg: ".", forbidden: []string{module + "internal/", "google.golang.org/grpc", "testing"}},
		"grpcresolver": {pkg: "./grpcresolver", forbidden: []string{module + "internal/", "testing"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", tc.pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", tc.pkg, err)
			}
			for dep := range strings.FieldsSeq(string(out)) {
				for _, f := range tc.forbidden {
					if dep == f || strings.HasPrefix(dep, f+"/") || strings.HasSuffix(f, "/") && strings.HasPrefix(dep, f) {
						t.Errorf("%s imports %s", tc.pkg, dep)
					}
				}
			}
		})
	}
}
