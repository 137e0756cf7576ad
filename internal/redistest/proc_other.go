//go:build !linux

package redistest

import "os/exec"

// setProcAttr does nothing where Pdeathsig is not available.
func setProcAttr(cmd *exec.Cmd) {}
