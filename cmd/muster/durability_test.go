package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/internal/testagent"
)

// Durability with real processes and SIGKILL: three durable servers take
// writes through one of them; the leader is killed mid-stream, then every
// server, and all three restart on their data. Every acknowledged write is
// read back, and so is the counter that every acknowledged CAS advanced.
func TestDurability_SIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a three-server cluster")
	}
	bin := filepath.Join(t.TempDir(), "muster")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, backend := range []string{"boltdb", "wal"} {
		t.Run(backend, func(t *testing.T) { testDurability(t, bin, backend) })
	}
}

func testDurability(t *testing.T, bin, backend string) {
	c := startProcCluster(t, bin, backend)
	leader := c.waitLeader(t, 15*time.Second)

	// Write through a follower, so the leader can be killed under it.
	via := (leader + 1) % 3
	acked := map[string]bool{}
	counter := 0
	write := func(i int) {
		kv := c.client(via).KV()
		key := "d/" + strconv.Itoa(i)
		if _, err := kv.Put(&consulapi.KVPair{Key: key, Value: []byte("x")}, nil); err == nil {
			acked[key] = true
		}
		p, _, err := kv.Get("counter", nil)
		if err != nil {
			return
		}
		var idx uint64
		n := 0
		if p != nil {
			idx = p.ModifyIndex
			n, _ = strconv.Atoi(string(p.Value))
		}
		ok, _, err := kv.CAS(&consulapi.KVPair{Key: "counter", Value: []byte(strconv.Itoa(n + 1)), ModifyIndex: idx}, nil)
		if err == nil && ok {
			counter = n + 1
		}
	}
	for i := range 100 {
		if i == 50 {
			c.kill(t, leader)
		}
		write(i)
	}
	if len(acked) < 50 {
		t.Fatalf("only %d writes acknowledged around the leader's death", len(acked))
	}
	for i := range c.procs {
		c.kill(t, i)
	}
	for i := range c.procs {
		c.start(t, i)
	}
	c.waitLeader(t, 15*time.Second)
	for i := range c.procs {
		kv := c.client(i).KV()
		testagent.WaitFor(t, 10*time.Second, fmt.Sprintf("server %d caught up", i), func() bool {
			p, _, err := kv.Get("counter", &consulapi.QueryOptions{AllowStale: true})
			return err == nil && p != nil && string(p.Value) == strconv.Itoa(counter)
		})
		keys, _, err := kv.Keys("d/", "", &consulapi.QueryOptions{AllowStale: true})
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, k := range keys {
			have[k] = true
		}
		for k := range acked {
			if !have[k] {
				t.Errorf("server %d lost acknowledged write %s", i, k)
			}
		}
	}
	t.Logf("%d writes and %d increments acknowledged, all read back on every server", len(acked), counter)
}

// procCluster is three `muster agent -server` processes on loopback.
type procCluster struct {
	bin    string
	dir    string
	config string    // the config file every server reads (its raft_logstore)
	ports  [3][3]int // http, server, serf_lan
	procs  [3]*exec.Cmd
}

func startProcCluster(t *testing.T, bin, backend string) *procCluster {
	c := &procCluster{bin: bin, dir: t.TempDir()}
	c.config = filepath.Join(c.dir, "config.json")
	if err := os.WriteFile(c.config, []byte(`{"raft_logstore": {"backend": "`+backend+`"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range c.ports {
		for j := range c.ports[i] {
			c.ports[i][j] = freePort(t)
		}
	}
	for i := range c.procs {
		c.start(t, i)
	}
	t.Cleanup(func() {
		for i := range c.procs {
			c.kill(t, i)
		}
	})
	return c
}

func (c *procCluster) start(t *testing.T, i int) {
	t.Helper()
	p := c.ports[i]
	args := []string{"agent", "-server", "-bootstrap-expect=3", "-node=s" + strconv.Itoa(i+1),
		"-data-dir=" + filepath.Join(c.dir, strconv.Itoa(i)), "-bind=127.0.0.1", "-client=127.0.0.1",
		"-http-port=" + strconv.Itoa(p[0]), "-server-port=" + strconv.Itoa(p[1]),
		"-serf-lan-port=" + strconv.Itoa(p[2]), "-dns-port=-1", "-log-level=warn", "-config-file=" + c.config}
	for j := range c.ports {
		if j != i {
			args = append(args, "-retry-join=127.0.0.1:"+strconv.Itoa(c.ports[j][2]))
		}
	}
	log, err := os.Create(filepath.Join(c.dir, fmt.Sprintf("s%d.log", i+1)))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(c.bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.procs[i] = cmd
}

// kill sends SIGKILL and reaps the process: no shutdown code runs.
func (c *procCluster) kill(t *testing.T, i int) {
	if p := c.procs[i]; p != nil {
		p.Process.Signal(syscall.SIGKILL)
		p.Wait()
		c.procs[i] = nil
	}
}

func (c *procCluster) client(i int) *consulapi.Client {
	cl, _ := consulapi.NewClient(&consulapi.Config{Address: "127.0.0.1:" + strconv.Itoa(c.ports[i][0])})
	return cl
}

// waitLeader waits until a running server leads and returns its index.
func (c *procCluster) waitLeader(t *testing.T, timeout time.Duration) int {
	t.Helper()
	idx := -1
	testagent.WaitFor(t, timeout, "a leader", func() bool {
		for i, p := range c.procs {
			if p == nil {
				continue
			}
			leader, err := c.client(i).Status().Leader()
			if err != nil || leader == "" {
				continue
			}
			for j := range c.ports {
				if leader == "127.0.0.1:"+strconv.Itoa(c.ports[j][1]) && c.procs[j] != nil {
					idx = j
					return true
				}
			}
		}
		return false
	})
	return idx
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
