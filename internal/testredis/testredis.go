// Package testredis starts real redis-server processes (Debian's
// redis-server package) for tests. It is imported only from _test.go
// files, so it never ships in a binary.
package testredis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Start starts a redis-server on a free loopback port, with persistence
// off, and stops it in t.Cleanup. It returns the server's address, or ""
// when redis-server is not on PATH (the caller decides whether to skip).
// It fails t if the server does not answer PING within 10 s.
func Start(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return ""
	}
	var errs []error
	for range 3 { // the free port can be taken before redis-server binds it
		addr, err := tryStart(t, bin)
		if err == nil {
			return addr
		}
		errs = append(errs, err)
	}
	t.Fatalf("testredis: start redis-server: %v", errors.Join(errs...))
	return ""
}

func tryStart(t testing.TB, bin string) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	dir := t.TempDir()
	logPath := filepath.Join(dir, "redis.log")
	cmd := exec.Command(bin,
		"--save", "", "--appendonly", "no",
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--dir", dir, "--logfile", logPath)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	failed := func(err error) (string, error) {
		stop()
		log, _ := os.ReadFile(logPath)
		return "", fmt.Errorf("%s on %s: %w\n%s", bin, addr, err, log)
	}

	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			t.Cleanup(stop)
			return addr, nil
		}
		if time.Now().After(deadline) {
			return failed(fmt.Errorf("no PING answer within 10s: %w", err))
		}
		select {
		case <-exited:
			return failed(fmt.Errorf("exited: %v", waitErr))
		case <-time.After(10 * time.Millisecond): // poll interval
		}
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
