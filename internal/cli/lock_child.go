package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// childPipeDelay bounds how long, after the child exits, its output is still
// copied to a UI writer that is not a file: a grandchild left running while
// holding the pipe must not keep `muster lock` from releasing the lock.
const childPipeDelay = time.Second

// child is the command `muster lock` runs while holding the lock.
type child struct {
	cmd  *exec.Cmd
	done chan error // receives Wait's result, once
}

// startChild starts args as Consul's lock does: through $SHELL -c (default
// /bin/sh) with the arguments joined by spaces when shell is set, directly
// otherwise. The child writes to ui.Out and ui.Err, reads os.Stdin only if
// passStdin, and gets the environment plus CONSUL_LOCK_HELD=true and env.
func startChild(ui *UI, args []string, shell, passStdin bool, env []string) (*child, error) {
	cmd, err := childCommand(args, shell)
	if err != nil {
		return nil, err
	}
	cmd.Env = append(append(os.Environ(), "CONSUL_LOCK_HELD=true"), env...)
	if passStdin {
		cmd.Stdin = os.Stdin
	}
	cmd.Stdout, cmd.Stderr = ui.Out, ui.Err
	cmd.WaitDelay = childPipeDelay
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	return c, nil
}

func childCommand(args []string, shell bool) (*exec.Cmd, error) {
	if len(args) == 0 {
		return nil, errors.New("cli: no child command")
	}
	if !shell {
		return exec.Command(args[0], args[1:]...), nil
	}
	sh := os.Getenv("SHELL")
	if sh == "" {
		sh = "/bin/sh"
	}
	return exec.Command(sh, "-c", strings.Join(args, " ")), nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop sends the child SIGTERM and, if it has not exited after grace,
// SIGKILL, and waits for it to exit. It must not be called after a value
// was taken from c.done.
func (c *child) stop(grace time.Duration) error {
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("cli: terminate child %d: %w", c.pid(), err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
		return nil
	case <-t.C:
	}
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("cli: kill child %d: %w", c.pid(), err)
	}
	<-c.done
	return nil
}
