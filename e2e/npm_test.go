package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestNPMClient drives tinyscale with bigbluebutton-js, a third-party BBB
// client library from the npm registry, through node's test runner.
func TestNPMClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required in CI")
		}
		t.Skip("node is not installed")
	}
	dir, _ := filepath.Abs("node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "bigbluebutton-js")); err != nil {
		npm := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		npm.Dir = dir
		if out, err := npm.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	fakes := startFleet(t, 3)
	g := startGateway(t, t.TempDir(), fakes)
	cmd := exec.Command(node, "--test", "--test-reporter=spec", "client.test.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TINYSCALE_URL="+g.URL+"/bigbluebutton", "TINYSCALE_SECRET="+g.Secret)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test:\n%s", out)
	if err != nil {
		t.Fatalf("the npm client tests failed: %v", err)
	}
}
