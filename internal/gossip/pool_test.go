package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestThreePoolsJoin(t *testing.T) {
	t.Parallel()
	pools := startCluster(t, 3, func(c *Config) { c.Tags["role"] = "consul"; c.Tags["port"] = "8300" })
	for _, p := range pools {
		members := p.Members()
		if len(members) != 3 {
			t.Fatalf("%s sees %d members: %+v", p.cfg.NodeName, len(members), members)
		}
		for i, m := range members {
			if want := "n" + strconv.Itoa(i+1); m.Name != want {
				t.Errorf("%s: member %d is %q, want %q (sorted by name)", p.cfg.NodeName, i, m.Name, want)
			}
			if m.Status != StatusAlive || !strings.HasPrefix(m.Addr, "127.") || m.Port == 0 {
				t.Errorf("%s sees %+v", p.cfg.NodeName, m)
			}
			if m.Tags["role"] != "consul" || m.Tags["port"] != "8300" || m.Tags["dc"] != "dc1" || m.Tags["build"] != "test" {
				t.Errorf("%s sees tags %v for %s", p.cfg.NodeName, m.Tags, m.Name)
			}
			if m.DelegateCur != delegateProtocol || m.ProtocolCur == 0 {
				t.Errorf("%s sees protocol versions %+v", p.cfg.NodeName, m)
			}
		}
	}
	// Members returns copies.
	m := pools[0].Members()[1]
	m.Tags["role"] = "changed"
	if got, _ := memberOf(pools[0], m.Name); got.Tags["role"] != "consul" {
		t.Fatalf("modifying a returned member changed the pool: %v", got.Tags)
	}
}

func TestUpdateTagsPropagates(t *testing.T) {
	t.Parallel()
	pools := startCluster(t, 3, nil)
	a, c := pools[0], pools[2]
	if err := c.UpdateTags(map[string]string{"role": "consul", "dc": "ignored", "port": "8300"}); err != nil {
		t.Fatal(err)
	}
	if got := c.LocalMember().Tags; got["role"] != "consul" || got["dc"] != "dc1" || got["build"] != "" {
		t.Fatalf("local tags after update: %v", got)
	}
	ev := waitEvent(t, a, EventUpdate, "n3")
	if ev.Member.Tags["role"] != "consul" || ev.Member.Status != StatusAlive {
		t.Fatalf("update event: %+v", ev)
	}
	for _, p := range pools {
		waitFor(t, p.cfg.NodeName+" to see n3's new tags", func() (bool, string) {
			m, _ := memberOf(p, "n3")
			return m.Tags["role"] == "consul" && m.Tags["port"] == "8300" && m.Tags["dc"] == "dc1", fmt.Sprint(m.Tags)
		})
	}

	big := map[string]string{"blob": strings.Repeat("x", 600)}
	if err := c.UpdateTags(big); !errors.Is(err, ErrTagsTooLarge) {
		t.Fatalf("UpdateTags(600 bytes) = %v, want ErrTagsTooLarge", err)
	}
	if c.LocalMember().Tags["role"] != "consul" {
		t.Fatal("a rejected update changed the tags")
	}
}

func TestGracefulLeaveIsLeft(t *testing.T) {
	t.Parallel()
	pools := startCluster(t, 3, nil)
	a, b, c := pools[0], pools[1], pools[2]
	if err := c.Leave(5 * time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if st := c.LocalMember().Status; st != StatusLeft {
		t.Fatalf("local status after Leave = %s, want left", st)
	}
	waitEvent(t, a, EventLeave, "n3")
	waitStatus(t, a, "n3", StatusLeft)
	waitStatus(t, b, "n3", StatusLeft)

	if err := c.Leave(time.Second); err != nil {
		t.Fatalf("second Leave = %v, want nil", err)
	}
	if _, err := c.Join([]string{addrOf(a)}); !errors.Is(err, ErrLeft) {
		t.Fatalf("Join after Leave = %v, want ErrLeft", err)
	}
	if err := c.UpdateTags(nil); !errors.Is(err, ErrLeft) {
		t.Fatalf("UpdateTags after Leave = %v, want ErrLeft", err)
	}
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := c.Leave(time.Second); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Leave after Shutdown = %v, want ErrShutdown", err)
	}
	for range c.Events() {
		// Drain what was buffered; ends because Shutdown closed the channel.
	}
}

func TestLeaveAlone(t *testing.T) {
	t.Parallel()
	a := startPool(t, testConfig("a"))
	if err := a.Leave(0); err != nil {
		t.Fatalf("Leave of a lone pool: %v", err)
	}
	waitEvent(t, a, EventLeave, "a")
	if st := a.LocalMember().Status; st != StatusLeft {
		t.Fatalf("status %s, want left", st)
	}
}

func TestShutdownWithoutLeaveIsFailed(t *testing.T) {
	t.Parallel()
	pools := startCluster(t, 3, nil)
	a, b, c := pools[0], pools[1], pools[2]
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, a, EventFail, "n3")
	waitStatus(t, a, "n3", StatusFailed)
	waitStatus(t, b, "n3", StatusFailed)
	if n := len(a.Members()); n != 3 {
		t.Fatalf("failed member dropped from Members: %d members", n)
	}
}

func TestForceLeave(t *testing.T) {
	t.Parallel()
	pools := startCluster(t, 4, nil)
	a, b, c, d := pools[0], pools[1], pools[2], pools[3]

	if err := a.ForceLeave("nope"); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("ForceLeave(unknown) = %v, want ErrUnknownMember", err)
	}
	if err := a.ForceLeave("n2"); !errors.Is(err, ErrNotFailed) {
		t.Fatalf("ForceLeave(alive) = %v, want ErrNotFailed", err)
	}
	if err := a.ForceLeave("n1"); !errors.Is(err, ErrNotFailed) {
		t.Fatalf("ForceLeave(self) = %v, want ErrNotFailed", err)
	}

	c.Shutdown()
	d.Shutdown()
	for _, p := range []*Pool{a, b} {
		waitStatus(t, p, "n3", StatusFailed)
		waitStatus(t, p, "n4", StatusFailed)
	}

	if err := a.ForceLeave("n3"); err != nil {
		t.Fatalf("ForceLeave(failed): %v", err)
	}
	if st := statusOf(a, "n3"); st != StatusLeft {
		t.Fatalf("a sees n3 %s right after ForceLeave, want left", st)
	}
	waitEvent(t, b, EventLeave, "n3")
	waitStatus(t, b, "n3", StatusLeft)
	if err := a.ForceLeave("n3"); err != nil {
		t.Fatalf("ForceLeave(left) = %v, want nil", err)
	}

	if err := b.ForceLeavePrune("n4"); err != nil {
		t.Fatalf("ForceLeavePrune: %v", err)
	}
	for _, p := range []*Pool{a, b} {
		waitFor(t, p.cfg.NodeName+" to forget n4", func() (bool, string) {
			m, ok := memberOf(p, "n4")
			return !ok, "still " + m.Status.String()
		})
	}
	waitEvent(t, a, EventReap, "n4")
}

func TestEncryption(t *testing.T) {
	t.Parallel()
	key1, key2 := mustKey(t), mustKey(t)
	type testcase struct {
		serverKey, joinerKey []byte
		wantJoin             bool
	}
	run := func(t *testing.T, tc testcase) {
		t.Parallel()
		cfgA, cfgB := testConfig("a"), testConfig("b")
		cfgA.EncryptKey, cfgB.EncryptKey = tc.serverKey, tc.joinerKey
		a, b := startPool(t, cfgA), startPool(t, cfgB)
		_, err := b.Join([]string{addrOf(a)})
		if !tc.wantJoin {
			if err == nil {
				t.Fatal("Join succeeded, want an error")
			}
			if n := len(a.Members()) + len(b.Members()); n != 2 {
				t.Fatalf("pools see %d members after a refused join, want 1 each", n)
			}
			return
		}
		if err != nil {
			t.Fatalf("Join: %v", err)
		}
		waitStatus(t, a, "b", StatusAlive)
		waitStatus(t, b, "a", StatusAlive)
	}
	for name, tc := range map[string]testcase{
		"same key":             {key1, key1, true},
		"different key":        {key1, key2, false},
		"joiner without key":   {key1, nil, false},
		"plaintext pool":       {nil, key1, false},
		"no encryption at all": {nil, nil, true},
	} {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func TestJoinOtherDatacenterRefused(t *testing.T) {
	t.Parallel()
	a := startPool(t, testConfig("a"))
	cfg := testConfig("b")
	cfg.Datacenter = "dc2"
	b := startPool(t, cfg)
	_, err := b.Join([]string{addrOf(a)})
	if err == nil || !strings.Contains(err.Error(), `datacenter "dc1"`) {
		t.Fatalf("Join across datacenters = %v, want a datacenter error", err)
	}
	if len(a.Members()) != 1 || len(b.Members()) != 1 {
		t.Fatalf("pools merged: %v / %v", a.Members(), b.Members())
	}
}

func TestRetryJoinWaitsForTarget(t *testing.T) {
	t.Parallel()
	cfgB := testConfig("b")
	failed := newSignalHandler(testLogger(t, "b").Handler(), "join failed, retrying")
	cfgB.Logger = slog.New(failed)
	b := startPool(t, cfgB)
	cfg := testConfig("a")
	cfg.BindPort = freePort(t, cfg.BindAddr)
	target := net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.BindPort))

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.RetryJoin(ctx, []string{target}, 20*time.Millisecond, 100*time.Millisecond) }()

	// Start the target only once RetryJoin has failed at least once.
	select {
	case <-failed.ch:
	case <-ctx.Done():
		t.Fatal("RetryJoin logged no failure")
	}
	a := startPool(t, cfg)

	if err := <-done; err != nil {
		t.Fatalf("RetryJoin: %v", err)
	}
	waitStatus(t, a, "b", StatusAlive)
	waitStatus(t, b, "a", StatusAlive)
}

func TestRetryJoinStops(t *testing.T) {
	t.Parallel()
	b := startPool(t, testConfig("b"))
	nowhere := unusedAddr()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.RetryJoin(ctx, []string{nowhere}, time.Millisecond, time.Millisecond)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "last error") {
		t.Fatalf("RetryJoin(canceled) = %v", err)
	}
	if err := b.RetryJoin(context.Background(), nil, 0, 0); !errors.Is(err, ErrNoAddresses) {
		t.Fatalf("RetryJoin(no addrs) = %v, want ErrNoAddresses", err)
	}

	done := make(chan error, 1)
	go func() {
		done <- b.RetryJoin(context.Background(), []string{nowhere}, time.Millisecond, 10*time.Millisecond)
	}()
	b.Shutdown()
	if err := <-done; !errors.Is(err, ErrShutdown) {
		t.Fatalf("RetryJoin after Shutdown = %v, want ErrShutdown", err)
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	a := startPool(t, testConfig("n1"))
	if ev := waitEvent(t, a, EventJoin, "n1"); ev.Member.Status != StatusAlive {
		t.Fatalf("self join event: %+v", ev)
	}
	b, c := startPool(t, testConfig("n2")), startPool(t, testConfig("n3"))
	for _, p := range []*Pool{b, c} {
		if _, err := p.Join([]string{addrOf(a)}); err != nil {
			t.Fatal(err)
		}
	}
	// a may merge c's join before b's.
	waitEvents(t, a, "join:n2", "join:n3")
	if m, _ := memberOf(a, "n3"); m.Tags["role"] != "node" || m.Addr != c.LocalMember().Addr {
		t.Fatalf("a sees n3 as %+v", m)
	}
	waitStatus(t, b, "n3", StatusAlive)
	waitStatus(t, c, "n2", StatusAlive)

	if err := b.Leave(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, a, EventLeave, "n2"); ev.Member.Status != StatusLeft {
		t.Fatalf("leave event: %+v", ev)
	}
	c.Shutdown()
	if ev := waitEvent(t, a, EventFail, "n3"); ev.Member.Status != StatusFailed {
		t.Fatalf("fail event: %+v", ev)
	}
	if a.DroppedEvents() != 0 {
		t.Fatalf("dropped %d events", a.DroppedEvents())
	}
}

func TestEventsDropWhenFull(t *testing.T) {
	t.Parallel()
	pools := startCluster(t, 3, func(c *Config) { c.EventBuffer = 1 })
	// Nobody reads: each pool buffered one event and dropped the rest.
	for _, p := range pools {
		if p.DroppedEvents() == 0 {
			t.Fatalf("%s dropped nothing with a 1-event buffer", p.cfg.NodeName)
		}
	}
}

func TestReap(t *testing.T) {
	t.Parallel()
	pools := startCluster(t, 3, func(c *Config) { c.ReapTimeout = 300 * time.Millisecond })
	a, c := pools[0], pools[2]
	c.Shutdown()
	ev := waitEvent(t, a, EventReap, "n3")
	if ev.Member.Status != StatusFailed {
		t.Fatalf("reap event: %+v", ev)
	}
	if _, ok := memberOf(a, "n3"); ok {
		t.Fatal("reaped member still listed")
	}
	if _, ok := memberOf(a, "n1"); !ok {
		t.Fatal("local member reaped")
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	type testcase struct {
		edit  func(*Config)
		field string
	}
	run := func(t *testing.T, tc testcase) {
		cfg := testConfig("a")
		tc.edit(&cfg)
		_, err := New(cfg)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field || !strings.HasPrefix(err.Error(), "gossip: ") {
			t.Fatalf("New = %v, want a ValidationError for %s", err, tc.field)
		}
	}
	for name, tc := range map[string]testcase{
		"no name":        {func(c *Config) { c.NodeName = "" }, "NodeName"},
		"bad port":       {func(c *Config) { c.BindPort = 70000 }, "BindPort"},
		"short key":      {func(c *Config) { c.EncryptKey = []byte("short") }, "EncryptKey"},
		"huge tags":      {func(c *Config) { c.Tags = map[string]string{"x": strings.Repeat("y", 600)} }, "Tags"},
		"negative probe": {func(c *Config) { c.Timing.ProbeInterval = -1 }, "Timing.ProbeInterval"},
		"negative reap":  {func(c *Config) { c.ReapTimeout = -time.Second }, "ReapTimeout"},
	} {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func TestJoinErrors(t *testing.T) {
	t.Parallel()
	a := startPool(t, testConfig("a"))
	if _, err := a.Join(nil); !errors.Is(err, ErrNoAddresses) {
		t.Fatalf("Join(nil) = %v, want ErrNoAddresses", err)
	}
	nowhere := unusedAddr()
	n, err := a.Join([]string{nowhere})
	if err == nil || n != 0 || !strings.HasPrefix(err.Error(), "gossip: join ") {
		t.Fatalf("Join(nowhere) = %d, %v", n, err)
	}
	a.Shutdown()
	if _, err := a.Join([]string{nowhere}); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Join after Shutdown = %v, want ErrShutdown", err)
	}
	if err := a.Shutdown(); err != nil {
		t.Fatalf("second Shutdown = %v", err)
	}
}

func mustKey(t *testing.T) []byte {
	t.Helper()
	s, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := DecodeKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestIntentsAndPushPullState drives the intent and push/pull paths directly,
// without waiting for memberlist to deliver them.
func TestIntentsAndPushPullState(t *testing.T) {
	t.Parallel()
	pools := startCluster(t, 3, nil)
	a, b, c := pools[0], pools[1], pools[2]

	// An intent about another incarnation of n2 is ignored.
	a.handleIntent(encodeIntent(intent{Kind: intentLeave, Node: "n2", Instance: "not-n2s-instance"}))
	if st := statusOf(a, "n2"); st != StatusAlive {
		t.Fatalf("stale leave intent made n2 %s", st)
	}
	// Garbage is ignored.
	a.handleIntent([]byte{0xff, '{'})
	a.handleIntent([]byte{msgIntent, '{'})
	a.mergeState([]byte{stateVersion, '{'})
	a.mergeState([]byte{0xee})

	c.Shutdown()
	waitStatus(t, a, "n3", StatusFailed)
	waitStatus(t, b, "n3", StatusFailed)

	// a marks n3 left without broadcasting; b learns it from a's push/pull
	// state, as a member that missed the force-leave intent would.
	a.mu.Lock()
	a.applyIntentLocked(intent{Kind: intentForceLeave, Node: "n3", Instance: c.instance})
	a.mu.Unlock()
	b.mergeState(a.localState())
	if st := statusOf(b, "n3"); st != StatusLeft {
		t.Fatalf("b sees n3 %s after merging a's state, want left", st)
	}
}

// TestPruneSpreadsByPushPull: a member that missed a prune's broadcast
// forgets the pruned member when it merges the pruner's push/pull state;
// a later incarnation of the same name is not forgotten.
func TestPruneSpreadsByPushPull(t *testing.T) {
	t.Parallel()
	pools := startCluster(t, 3, nil)
	a, b, c := pools[0], pools[1], pools[2]
	c.Shutdown()
	waitStatus(t, a, "n3", StatusFailed)
	waitStatus(t, b, "n3", StatusFailed)

	// a prunes n3 without broadcasting, as if every broadcast went to
	// dead members.
	a.mu.Lock()
	a.applyIntentLocked(intent{Kind: intentPrune, Node: "n3", Instance: c.instance})
	a.mu.Unlock()
	if _, ok := memberOf(a, "n3"); ok {
		t.Fatal("a still lists n3 after pruning it")
	}
	b.mergeState(a.localState())
	if m, ok := memberOf(b, "n3"); ok {
		t.Fatalf("b lists n3 (%s) after merging a's state, want it forgotten", m.Status)
	}

	// A prune of another incarnation is ignored.
	b.mu.Lock()
	b.members["n3"] = &memberState{Member: Member{Name: "n3", Status: StatusFailed}, instance: "new-incarnation"}
	b.mu.Unlock()
	b.mergeState(a.localState())
	if _, ok := memberOf(b, "n3"); !ok {
		t.Error("b forgot a new incarnation of n3 because of an old prune")
	}
}
