package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
)

// printView is the handler of a watch without HANDLER: it writes each view
// to out as JSON indented by four spaces, as Consul's watch does.
func printView(out io.Writer) watchHandler {
	return func(_ context.Context, _ uint64, view []byte) error {
		var b bytes.Buffer
		if err := json.Indent(&b, view, "", "    "); err != nil {
			return fmt.Errorf("encoding output: %w", err)
		}
		b.WriteByte('\n')
		if _, err := out.Write(b.Bytes()); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
		return nil
	}
}

// execView is the handler of a watch with HANDLER: for each view it runs
// args, through $SHELL -c (default /bin/sh) with the arguments joined by
// spaces when shell is set, with the view on its stdin (one line of JSON)
// and CONSUL_INDEX set to the view's index, as Consul's watch does, and
// waits for it to exit. The handler writes to ui. A handler that cannot
// start or exits non-zero ends the watch, as in Consul. If ctx ends while it
// runs, it is sent SIGTERM and, lockKillGracePeriod later, SIGKILL.
func execView(ui *UI, args []string, shell bool) watchHandler {
	return func(ctx context.Context, index uint64, view []byte) error {
		cmd, err := childCommand(args, shell)
		if err != nil {
			return fmt.Errorf("executing handler: %w", err)
		}
		cmd.Env = append(os.Environ(), "CONSUL_INDEX="+strconv.FormatUint(index, 10))
		cmd.Stdin = bytes.NewReader(slices.Concat(view, []byte("\n")))
		cmd.Stdout, cmd.Stderr = ui.Out, ui.Err
		cmd.WaitDelay = childPipeDelay
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting handler: %w", err)
		}
		h := &child{cmd: cmd, done: make(chan error, 1)}
		go func() { h.done <- cmd.Wait() }()
		select {
		case err := <-h.done:
			if err != nil {
				return fmt.Errorf("executing handler: %w", err)
			}
			return nil
		case <-ctx.Done():
			if err := h.stop(lockKillGracePeriod); err != nil {
				return fmt.Errorf("stopping handler: %w", err)
			}
			return nil
		}
	}
}
