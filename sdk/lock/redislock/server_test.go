package redislock

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

// startRedis starts a real redis-server (Debian package redis-server) on a
// free loopback port, with persistence off, and stops it in t.Cleanup. It
// returns the server's address. It skips t if redis-server is not on PATH.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not on PATH (apt-get install redis-server): skipping tests against a real Redis")
	}
	var errs []error
	for range 3 { // the free port can be taken before redis-server binds it
		addr, err := tryStartRedis(t, bin)
		if err == nil {
			return addr
		}
		errs = append(errs, err)
	}
	t.Fatalf("start redis-server: %v", errors.Join(errs...))
	return ""
}

func tryStartRedis(t *testing.T, bin string) (string, error) {
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

// newClient returns a client of the server at addr, closed in t.Cleanup.
// Each Lock gets its own, as a separate process would have.
func newClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 4})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newLock returns a Lock on key with its own client; a hold still open when
// t ends is released in t.Cleanup, before the client closes.
func newLock(t *testing.T, addr, key string, opts Options) (*Lock, *redis.Client) {
	t.Helper()
	c := newClient(t, addr)
	l, err := New(c, key, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = l.Unlock(context.Background()) })
	return l, c
}
