//go:build !linux

package main

import "os/exec"

// setDeathSignal does nothing outside Linux; bench/run.sh's trap and the
// bench's own cleanup stop the children.
func setDeathSignal(*exec.Cmd) {}
