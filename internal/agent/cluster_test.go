package agent_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	musterapi "github.com/musterhq/muster/api"
	"github.com/musterhq/muster/internal/config"
	"github.com/musterhq/muster/internal/testagent"
)

// serfStatus is a node's serfHealth status as a server's catalog has it.
func serfStatus(t *testing.T, c *consulapi.Client, node string) string {
	t.Helper()
	checks, _, err := c.Health().Node(node, &consulapi.QueryOptions{AllowStale: true})
	if err != nil {
		return ""
	}
	for _, ch := range checks {
		if ch.CheckID == "serfHealth" {
			return ch.Status
		}
	}
	return ""
}

// Three servers bootstrap over gossip; a client agent joins them; any
// agent answers any call (writes through the client, reads from every
// server); sessions made through the client are the client's.
func TestCluster_FormsAndForwards(t *testing.T) {
	c := testagent.StartCluster(t, 3, 1)
	client := c.Clients[0].Client.Client

	testagent.WaitFor(t, 10*time.Second, "three voters", func() bool {
		cfg, err := client.Operator().RaftGetConfiguration(nil)
		if err != nil || len(cfg.Servers) != 3 {
			return false
		}
		names := map[string]bool{}
		for _, s := range cfg.Servers {
			if !s.Voter {
				return false
			}
			names[s.Node] = true
		}
		// Every server is shown by its node name, not its ID.
		return names["s1"] && names["s2"] && names["s3"]
	})
	members, err := client.Agent().Members(false)
	if err != nil || len(members) != 4 {
		t.Fatalf("members %v, %v", members, err)
	}

	if _, err := client.KV().Put(&consulapi.KVPair{Key: "k", Value: []byte("v1")}, nil); err != nil {
		t.Fatal(err)
	}
	for i, s := range c.Servers {
		kv := s.Client.Client.KV()
		// Default reads go to the leader: read-your-writes from anywhere.
		p, _, err := kv.Get("k", nil)
		if err != nil || p == nil || string(p.Value) != "v1" {
			t.Fatalf("server %d default read: %v %v", i, p, err)
		}
		testagent.WaitFor(t, 5*time.Second, "stale read on server "+strconv.Itoa(i), func() bool {
			p, _, err := kv.Get("k", &consulapi.QueryOptions{AllowStale: true})
			return err == nil && p != nil && string(p.Value) == "v1"
		})
	}

	// A follower forwards writes too.
	var follower *testagent.Agent
	for _, s := range c.Servers {
		if !s.IsLeader() {
			follower = s
		}
	}
	if _, err := follower.Client.Client.KV().Put(&consulapi.KVPair{Key: "k2", Value: []byte("v2")}, nil); err != nil {
		t.Fatalf("write through follower: %v", err)
	}

	// The client's node is in the catalog, its session is its own.
	testagent.WaitFor(t, 5*time.Second, "client node passing", func() bool {
		return serfStatus(t, client, "c1") == "passing"
	})
	id, _, err := client.Session().Create(&consulapi.SessionEntry{TTL: "30s"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	info, _, err := client.Session().Info(id, nil)
	if err != nil || info == nil || info.Node != "c1" {
		t.Fatalf("session %+v %v, want node c1", info, err)
	}

	// A service registered through the client agent reaches the catalog.
	if err := client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{Name: "web", Port: 80}); err != nil {
		t.Fatal(err)
	}
	svcs, _, err := c.Servers[0].Client.Client.Catalog().Service("web", "", nil)
	if err != nil || len(svcs) != 1 || svcs[0].Node != "c1" {
		t.Fatalf("catalog web: %v %v", svcs, err)
	}
}

// The leader is killed: another takes over and writes through the client
// resume; nothing acknowledged is lost; the old leader restarts on its
// data and rejoins as a follower.
func TestCluster_LeaderFailover(t *testing.T) {
	c := testagent.StartCluster(t, 3, 1)
	client := c.Clients[0].Client.Client
	for i := range 20 {
		if _, err := client.KV().Put(&consulapi.KVPair{Key: "n/" + strconv.Itoa(i), Value: []byte("x")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	old := c.Leader()
	idx := -1
	for i, s := range c.Servers {
		if s == old {
			idx = i
		}
	}
	c.Kill(idx)
	// Writes through the client are held through the election and succeed.
	if _, err := client.KV().Put(&consulapi.KVPair{Key: "after", Value: []byte("y")}, nil); err != nil {
		t.Fatalf("write after leader loss: %v", err)
	}
	nl := c.WaitLeader(5 * time.Second)
	if nl == old {
		t.Fatal("dead leader still leads")
	}
	keys, _, err := client.KV().Keys("n/", "", nil)
	if err != nil || len(keys) != 20 {
		t.Fatalf("keys after failover: %d %v", len(keys), err)
	}

	c.Restart(idx, old)
	back := c.Servers[idx]
	testagent.WaitFor(t, 10*time.Second, "restarted server caught up", func() bool {
		p, _, err := back.Client.Client.KV().Get("after", &consulapi.QueryOptions{AllowStale: true})
		return err == nil && p != nil && string(p.Value) == "y"
	})
	if back.IsLeader() {
		// Possible only through a new election; still a valid member.
		t.Log("restarted server won a later election")
	}
	cfg, err := client.Operator().RaftGetConfiguration(nil)
	if err != nil || len(cfg.Servers) != 3 {
		t.Fatalf("raft configuration after restart: %+v %v", cfg, err)
	}
}

// A client agent that dies is marked critical, which invalidates its
// sessions and frees their locks; one that leaves is removed.
func TestCluster_ClientFailureAndLeave(t *testing.T) {
	c := testagent.StartCluster(t, 3, 2)
	s1 := c.Servers[0].Client.Client
	dead := c.Clients[0]
	testagent.WaitFor(t, 10*time.Second, "clients registered", func() bool {
		return serfStatus(t, s1, "c1") == "passing" && serfStatus(t, s1, "c2") == "passing"
	})
	id, _, err := dead.Client.Client.Session().Create(&consulapi.SessionEntry{LockDelay: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ok, _, err := dead.Client.Client.KV().Acquire(&consulapi.KVPair{Key: "lock", Session: id}, nil)
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	// A service whose check asks to be deregistered after 2s critical: with
	// its agent dead, the leader does it.
	if err := dead.Client.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
		Name: "reaped", Check: &consulapi.AgentServiceCheck{TTL: "1h", Status: "passing", DeregisterCriticalServiceAfter: "2s"},
	}); err != nil {
		t.Fatal(err)
	}
	dead.Shutdown() // no leave: a crash
	testagent.WaitFor(t, 10*time.Second, "dead client critical", func() bool {
		return serfStatus(t, s1, "c1") == "critical"
	})
	testagent.WaitFor(t, 5*time.Second, "lock released", func() bool {
		p, _, err := s1.KV().Get("lock", nil)
		return err == nil && p != nil && p.Session == ""
	})
	testagent.WaitFor(t, 10*time.Second, "dead agent's service reaped", func() bool {
		svcs, _, err := s1.Catalog().Service("reaped", "", nil)
		return err == nil && len(svcs) == 0
	})

	// A leaving agent's node goes, except for services with cluster-owned
	// checks: they stay, passing, run by the leader.
	leaver := c.Clients[1]
	lc := leaver.Client.Client.Agent()
	if err := lc.ServiceRegister(&consulapi.AgentServiceRegistration{Name: "plain", Port: 1}); err != nil {
		t.Fatal(err)
	}
	target := c.Servers[0].Addr // a port that stays up after c2 is gone
	if err := lc.ServiceRegister(&consulapi.AgentServiceRegistration{
		Name: "kept", Port: 2, Meta: map[string]string{"muster-check-owner": "cluster"},
		Check: &consulapi.AgentServiceCheck{TCP: target, Interval: "1s"},
	}); err != nil {
		t.Fatal(err)
	}
	testagent.WaitFor(t, 10*time.Second, "kept passing", func() bool {
		e, _, err := s1.Health().Service("kept", "", true, nil)
		return err == nil && len(e) == 1
	})
	if err := leaver.Leave(); err != nil {
		t.Fatal(err)
	}
	leaver.Shutdown()
	testagent.WaitFor(t, 10*time.Second, "left client's plain service deregistered", func() bool {
		svcs, _, err := s1.Catalog().Service("plain", "", nil)
		return err == nil && len(svcs) == 0 && serfStatus(t, s1, "c2") == "critical"
	})
	e, _, err := s1.Health().Service("kept", "", true, nil)
	if err != nil || len(e) != 1 || e[0].Node.Node != "c2" {
		t.Fatalf("kept after its agent left: %v %v", e, err)
	}
}

// Acknowledged writes survive a stop of every server: the cluster comes
// back from its data directories with all of them.
func TestCluster_WholeClusterRestart(t *testing.T) {
	for _, backend := range []string{"boltdb", "wal"} {
		t.Run(backend, func(t *testing.T) { testWholeClusterRestart(t, backend) })
	}
}

func testWholeClusterRestart(t *testing.T, backend string) {
	c := testagent.StartCluster(t, 3, 0, func(cfg *config.Config) { cfg.RaftLogStore.Backend = backend })
	kv := c.Leader().Client.Client.KV()
	const n = 50
	for i := range n {
		if _, err := kv.Put(&consulapi.KVPair{Key: "d/" + strconv.Itoa(i), Value: []byte(strconv.Itoa(i))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	olds := make([]*testagent.Agent, len(c.Servers))
	for i := range c.Servers {
		olds[i] = c.Servers[i]
		c.Kill(i)
	}
	for i := range c.Servers {
		c.Restart(i, olds[i])
	}
	c.WaitLeader(10 * time.Second)
	keys, _, err := c.Servers[0].Client.Client.KV().Keys("d/", "", nil)
	if err != nil || len(keys) != n {
		t.Fatalf("after restart: %d keys, %v", len(keys), err)
	}
}

// A service registered through a client agent with cluster-owned checks
// outlives the agent: once the agent dies the leader runs its check, the
// instance stays in ?passing while the check passes, a new leader takes
// the check over, and a check critical past DeregisterCriticalServiceAfter
// removes the service.
func TestCluster_OwnedChecksOutliveTheirAgent(t *testing.T) {
	var failing atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(target.Close)

	c := testagent.StartCluster(t, 3, 1)
	agentNode := c.Clients[0]
	reg := &consulapi.AgentServiceRegistration{
		ID: "web-1", Name: "web", Port: 80,
		Meta: map[string]string{"muster-check-owner": "cluster"},
		Check: &consulapi.AgentServiceCheck{
			HTTP: target.URL, Interval: "1s", Timeout: "1s", DeregisterCriticalServiceAfter: "3s",
		},
	}
	if err := agentNode.Client.Client.Agent().ServiceRegister(reg); err != nil {
		t.Fatal(err)
	}
	s1 := c.Servers[0].Client.Client
	passing := func() int {
		entries, _, err := s1.Health().Service("web", "", true, nil)
		if err != nil {
			return -1
		}
		return len(entries)
	}
	checkStatus := func() string {
		checks, _, err := s1.Health().Checks("web", nil)
		if err != nil || len(checks) != 1 {
			return ""
		}
		return checks[0].Status
	}
	testagent.WaitFor(t, 10*time.Second, "web passing", func() bool { return passing() == 1 })

	agentNode.Shutdown() // a crash: no leave
	testagent.WaitFor(t, 10*time.Second, "agent critical", func() bool {
		return serfStatus(t, s1, "c1") == "critical"
	})
	if n := passing(); n != 1 {
		t.Fatalf("instances passing with their agent dead = %d, want 1", n)
	}

	// The check really runs on the cluster: its status follows the target.
	failing.Store(true)
	testagent.WaitFor(t, 10*time.Second, "check critical, run by the leader", func() bool { return checkStatus() == "critical" })
	failing.Store(false)
	testagent.WaitFor(t, 10*time.Second, "check passing again", func() bool { return checkStatus() == "passing" })

	// A new leader takes it over.
	old := c.Leader()
	for i, s := range c.Servers {
		if s == old {
			c.Kill(i)
		}
	}
	nl := c.WaitLeader(10 * time.Second)
	live := nl.Client.Client
	failing.Store(true)
	testagent.WaitFor(t, 10*time.Second, "check critical under the new leader", func() bool {
		checks, _, err := live.Health().Checks("web", nil)
		return err == nil && len(checks) == 1 && checks[0].Status == "critical"
	})
	// Critical past DeregisterCriticalServiceAfter (3s): the service goes.
	testagent.WaitFor(t, 15*time.Second, "service deregistered", func() bool {
		svcs, _, err := live.Catalog().Service("web", "", nil)
		return err == nil && len(svcs) == 0
	})
}

// A fair-lock waiter whose leader goes away is never left holding a lock
// it was told it did not get: a "false" answer means it left the queue (the
// release under the new leader does not grant it the key); an error means
// the outcome is unknown, and its retry with the same session learns it.
// Either way the retry gets the lock once the holder releases.
func TestCluster_FairWaiterAcrossLeaderChange(t *testing.T) {
	c := testagent.StartCluster(t, 3, 1)
	cl := c.Clients[0].Client
	testagent.WaitFor(t, 10*time.Second, "client registered", func() bool {
		return serfStatus(t, c.Servers[0].Client.Client, "c1") == "passing"
	})
	sess := func() string {
		id, _, err := cl.Client.Session().Create(&consulapi.SessionEntry{LockDelay: time.Millisecond, TTL: "60s"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	holder, waiter := sess(), sess()
	ctx := context.Background()
	if a, err := cl.Acquire(ctx, "lock", holder, nil); err != nil || !a.Acquired {
		t.Fatalf("holder acquire: %+v %v", a, err)
	}
	type result struct {
		a   musterapi.Acquisition
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, err := cl.AcquireWait(ctx, "lock", waiter, nil, 30*time.Second)
		done <- result{a, err}
	}()
	testagent.WaitFor(t, 5*time.Second, "waiter queued", func() bool {
		ws, err := c.Servers[0].FSMState().LockWaiters("lock")
		return err == nil && len(ws) == 1
	})
	old := c.Leader()
	for i, s := range c.Servers {
		if s == old {
			c.Kill(i)
		}
	}
	parked := <-done
	t.Logf("the parked call when its leader went: %+v", parked)
	if parked.err == nil && parked.a.Acquired {
		t.Fatal("granted while the holder still held the lock")
	}
	c.WaitLeader(10 * time.Second)
	if _, _, err := cl.Client.KV().Release(&consulapi.KVPair{Key: "lock", Session: holder}, nil); err != nil {
		t.Fatal(err)
	}
	if parked.err == nil { // told "false": it must not hold the lock now
		p, _, err := cl.Client.KV().Get("lock", nil)
		if err != nil || p == nil || p.Session == waiter {
			t.Fatalf("after a false answer the waiter holds the lock: %+v %v", p, err)
		}
	}
	a, err := cl.AcquireWait(ctx, "lock", waiter, nil, 5*time.Second)
	if err != nil || !a.Acquired {
		t.Fatalf("waiter's retry after the leader change: %+v %v", a, err)
	}
}
