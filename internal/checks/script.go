package checks

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"
)

// scriptWaitDelay bounds how long a script run waits for its output pipe to
// close after the script exited or was killed: a child the script left
// behind in the background may hold the pipe open for much longer.
const scriptWaitDelay = time.Second

// scriptProber is the prober of a script check (Consul's CheckMonitor): it
// runs Args without a shell; exit 0 is passing, 1 warning, anything else
// critical. Standard output and error are captured together, keeping the
// last OutputMaxSize bytes. At the timeout the script's whole process group
// is killed and the check is critical.
type scriptProber struct {
	args      []string
	timeout   time.Duration // for the message; ctx carries the deadline
	maxOutput int
}

func (p *scriptProber) probe(ctx context.Context) (string, string) {
	out := newTailBuffer(p.maxOutput)
	cmd := exec.CommandContext(ctx, p.args[0], p.args[1:]...)
	cmd.Stdout = out
	cmd.Stderr = out
	setProcessGroup(cmd)
	cmd.Cancel = func() error { return killProcessGroup(cmd) }
	cmd.WaitDelay = scriptWaitDelay

	err := cmd.Run()
	output := out.String()
	var exitErr *exec.ExitError
	switch {
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		msg := fmt.Sprintf("Timed out (%s) running check", p.timeout)
		if output != "" {
			msg += "\n\n" + output
		}
		return Critical, msg
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
		// ErrWaitDelay: exit 0, but a leftover child kept the pipe open.
		return Passing, output
	case errors.As(err, &exitErr):
		if exitErr.ExitCode() == 1 {
			return Warning, output
		}
		return Critical, output
	}
	// The program could not be started: say why.
	return Critical, err.Error()
}

func (p *scriptProber) close() {}
