package main

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill the child if the bench process dies
// without cleaning up (e.g. SIGKILL), so no fake servers are left behind.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
