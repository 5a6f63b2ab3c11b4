//go:build unix

package checks

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// setProcessGroup makes the script the leader of a new process group, so
// killProcessGroup reaches the children it starts too.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killProcessGroup kills the script and everything it started (Consul's
// KillCommandSubtree).
func killProcessGroup(cmd *exec.Cmd) error {
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}
