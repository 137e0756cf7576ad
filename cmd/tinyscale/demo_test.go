package main

import "testing"

// TestCLICommand covers the command the demo prints for `status`: after
// `go run ./cmd/tinyscale demo`, as the README starts, there is no
// tinyscale binary to run, so it printed a command that failed.
func TestCLICommand(t *testing.T) {
	tests := []struct{ name, exe, want string }{
		{"go_run", "/tmp/go-build2689392434/b001/exe/tinyscale", "go run ./cmd/tinyscale"},
		{"installed", "/usr/local/bin/tinyscale", "tinyscale"},
		{"built_here", "/home/ada/tinyscale/bin/tinyscale", "tinyscale"},
		{"unknown", "", "tinyscale"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cliCommand(tt.exe); got != tt.want {
				t.Errorf("cliCommand(%q) = %q, want %q", tt.exe, got, tt.want)
			}
		})
	}
}
