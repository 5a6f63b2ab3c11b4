//go:build !unix

package checks

import "os/exec"

// setProcessGroup does nothing where there are no Unix process groups.
func setProcessGroup(cmd *exec.Cmd) {}

// killProcessGroup kills the script only: its children survive.
func killProcessGroup(cmd *exec.Cmd) error { return cmd.Process.Kill() }
