package main

import (
	"os/exec"
	"strings"
	"testing"
)

// Import fences (see docs/architecture.md): the public client never imports
// internal packages, and our test helpers never ship in the binary. (The
// binary does link package testing: hashicorp/raft ships testing.go.)
func TestImportFences(t *testing.T) {
	tests := map[string]struct {
		pkg       string
		forbidden []string
	}{
		"api is public":             {"github.com/musterhq/muster/api", []string{"github.com/musterhq/muster/internal/"}},
		"binary has no test helper": {"github.com/musterhq/muster/cmd/muster", []string{"github.com/musterhq/muster/internal/testagent", "github.com/musterhq/muster/internal/testredis"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", tc.pkg).Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			for _, dep := range strings.Fields(string(out)) {
				for _, f := range tc.forbidden {
					if dep == f || strings.HasPrefix(dep, f) && strings.HasSuffix(f, "/") {
						t.Errorf("%s depends on %s", tc.pkg, dep)
					}
				}
			}
		})
	}
}
