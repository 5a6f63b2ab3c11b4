package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proc is one server process the bench started. Its output goes to a log
// file in the run's temp dir; when the server fails, the error quotes the
// log's last lines.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string        // combined stdout/stderr; its tail goes into errors
	done chan struct{} // closed when the process exits
	err  error         // exit error; set before done is closed
}

// startProc starts bin with args, logging to dir/name.log (appended to, so
// a restarted server keeps one log). The process gets SIGKILL if the bench
// dies, so no server outlives a crashed run.
func startProc(name, dir, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = dir
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has already stopped.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to 10 s for a clean exit, then kills.
func (p *proc) stop() error {
	if p.exited() {
		return p.exitErr()
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within 10s of SIGTERM; killed", p.name)
	}
}

// kill sends SIGKILL, a crash rather than a shutdown, and waits until the
// process is gone.
func (p *proc) kill() {
	if !p.exited() {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}

func (p *proc) exitErr() error {
	if p.err == nil {
		return fmt.Errorf("%s exited; its log ends:\n%s", p.name, p.tail())
	}
	return fmt.Errorf("%s exited: %v; its log ends:\n%s", p.name, p.err, p.tail())
}

// tail returns the last lines of the process's log, which lives in a temp
// dir that is gone once the bench exits (unless -keep).
func (p *proc) tail() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return "  | " + strings.Join(lines[max(len(lines)-15, 0):], "\n  | ")
}

// waitReady polls ready every 50 ms until it succeeds, the process exits or
// timeout passes.
func (p *proc) waitReady(ctx context.Context, timeout time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if p.exited() {
			return p.exitErr()
		}
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		last = ready(rctx)
		rcancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %v: %v; its log ends:\n%s", p.name, timeout, last, p.tail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// poll calls f every interval until it succeeds or timeout passes; the
// error then quotes what f said last. Each call gets at most a second.
func poll(ctx context.Context, timeout, interval time.Duration, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		fctx, fcancel := context.WithTimeout(ctx, time.Second)
		err := f(fctx)
		fcancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not within %v: %w", timeout, err)
		case <-time.After(interval):
		}
	}
}

// freePorts returns n distinct free TCP ports on 127.0.0.1. They are free
// when probed; another process could take one before the server binds it,
// which then shows as a start failure.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// errStopped ends a worker's loop when the workload's time is up.
var errStopped = errors.New("bench: stopped")
