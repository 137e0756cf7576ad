package fakebbb_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestDeps keeps the fake independent: it may import only the standard
// library and the JWT package, never tinyscale's own BBB code, so that the
// gateway is never tested against a server that agrees with it by
// construction.
func TestDeps(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if !strings.Contains(first, ".") || imp == "github.com/golang-jwt/jwt/v5" {
			continue
		}
		t.Errorf("got import %q, want only the standard library and github.com/golang-jwt/jwt/v5", imp)
	}
}
