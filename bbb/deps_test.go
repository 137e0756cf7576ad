package bbb_test

import (
	"go/build"
	"os/exec"
	"strings"
	"testing"
)

// TestDeps checks that package bbb depends on the standard library only,
// the way tailscale's deptest does: first from the package's own imports
// (always), then, when the go command is available, from `go list -deps`.
func TestDeps(t *testing.T) {
	t.Run("direct_imports", func(t *testing.T) {
		pkg, err := build.ImportDir(".", 0)
		if err != nil {
			t.Fatalf("load package: %v", err)
		}
		for _, imp := range pkg.Imports {
			if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") {
				t.Errorf("bbb imports %s, want the standard library only", imp)
			}
		}
	})
	t.Run("go_list_deps", func(t *testing.T) {
		gobin, err := exec.LookPath("go")
		if err != nil {
			t.Skip("go command not found; direct_imports still checks the imports")
		}
		out, err := exec.Command(gobin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		for _, p := range strings.Fields(string(out)) {
			if p != "github.com/tinyscale/tinyscale/bbb" {
				t.Errorf("bbb depends on %s, want the standard library only", p)
			}
		}
	})
}
