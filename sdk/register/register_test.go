package register_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/internal/config"
	"github.com/musterhq/muster/internal/testagent"
	"github.com/musterhq/muster/sdk/register"
)

// fast keeps the tests' retries short.
var fast = register.Options{RetryFirst: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond}

// registered says whether the agent lists service id.
func registered(c *api.Client, id string) bool {
	svcs, err := c.Agent().Services()
	_, ok := svcs[id]
	return err == nil && ok
}

// checkStatus is the status of check id on the agent, or "" if absent.
func checkStatus(c *api.Client, id string) string {
	checks, err := c.Agent().Checks()
	if err != nil || checks[id] == nil {
		return ""
	}
	return checks[id].Status
}

func TestRegisterAndDeregisterOnContextEnd(t *testing.T) {
	a := testagent.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := register.Register(ctx, a.Client, &consulapi.AgentServiceRegistration{Name: "web", Port: 80}, fast)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID() != "web" {
		t.Errorf("ID = %q, want the name", r.ID())
	}
	if !registered(a.Client, "web") {
		t.Fatal("not registered after Register returned")
	}
	cancel()
	select {
	case <-r.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the context ended")
	}
	if registered(a.Client, "web") {
		t.Error("still registered after the context ended")
	}
	if err := r.Deregister(context.Background()); err != nil {
		t.Errorf("Deregister after the context ended: %v", err)
	}
}

func TestDeregister(t *testing.T) {
	a := testagent.Start(t)
	r, err := register.Register(context.Background(), a.Client, &consulapi.AgentServiceRegistration{ID: "web-1", Name: "web"}, fast)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Deregister(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.Done():
	default:
		t.Error("Done not closed when Deregister returned")
	}
	if registered(a.Client, "web-1") {
		t.Error("still registered after Deregister")
	}
	if err := r.Deregister(context.Background()); err != nil {
		t.Errorf("second Deregister: %v", err)
	}
	// The watch has stopped: nothing brings the instance back.
	time.Sleep(100 * time.Millisecond)
	if registered(a.Client, "web-1") {
		t.Error("re-registered after Deregister")
	}
}

// A check left by an earlier process under the same ID, and no longer
// declared, is removed: it must not keep the instance critical.
func TestReplacesLeftoverChecks(t *testing.T) {
	a := testagent.Start(t)
	old := &consulapi.AgentServiceRegistration{ID: "web-1", Name: "web",
		Checks: consulapi.AgentServiceChecks{{CheckID: "old-ttl", TTL: "1m"}}}
	if err := a.Client.Agent().ServiceRegister(old); err != nil {
		t.Fatal(err)
	}
	r, err := register.Register(context.Background(), a.Client, &consulapi.AgentServiceRegistration{ID: "web-1", Name: "web"}, fast)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Deregister(context.Background()) })
	if s := checkStatus(a.Client, "old-ttl"); s != "" {
		t.Errorf("leftover check still there, status %q", s)
	}
}

func TestRefused(t *testing.T) {
	a := testagent.Start(t)
	cases := map[string]*consulapi.AgentServiceRegistration{
		"no name":   {ID: "x"},
		"bad check": {Name: "web", Check: &consulapi.AgentServiceCheck{HTTP: "http://127.0.0.1:1/", Interval: "not-a-duration"}},
		"bad ttl":   {Name: "web", Check: &consulapi.AgentServiceCheck{TTL: "soon"}},
		"nil":       nil,
	}
	for name, reg := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := register.Register(ctx, a.Client, reg, fast)
			if !errors.Is(err, register.ErrRefused) {
				t.Fatalf("err = %v, want ErrRefused", err)
			}
		})
	}
}

func TestReregistersWhenTheAgentForgets(t *testing.T) {
	a := testagent.Start(t)
	r, err := register.Register(context.Background(), a.Client, &consulapi.AgentServiceRegistration{Name: "web"}, fast)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Deregister(context.Background()) })
	if err := a.Client.Agent().ServiceDeregister("web"); err != nil {
		t.Fatal(err)
	}
	testagent.WaitFor(t, 15*time.Second, "re-registration", func() bool { return registered(a.Client, "web") })
}

func TestReregistersAfterAgentRestart(t *testing.T) {
	port := freePort(t)
	onPort := func(c *config.Config) { c.Ports.HTTP = port }
	a := testagent.Start(t, onPort)
	c, err := api.NewClient(&api.Config{Address: a.Addr})
	if err != nil {
		t.Fatal(err)
	}
	r, err := register.Register(context.Background(), c, &consulapi.AgentServiceRegistration{Name: "web",
		Check: &consulapi.AgentServiceCheck{TTL: "1s"}}, fast)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Deregister(context.Background()) })
	a.Shutdown() // a dev agent keeps nothing: the new one starts empty
	b := testagent.Start(t, onPort)
	testagent.WaitFor(t, 15*time.Second, "re-registration on the new agent", func() bool { return registered(b.Client, "web") })
	testagent.WaitFor(t, 15*time.Second, "the TTL check passing", func() bool { return checkStatus(b.Client, "service:web") == consulapi.HealthPassing })
}

func TestHeartbeat(t *testing.T) {
	a := testagent.Start(t)
	var healthy = make(chan error, 1)
	healthy <- nil
	state := error(nil)
	opts := fast
	opts.Health = func(context.Context) error {
		select {
		case state = <-healthy:
		default:
		}
		return state
	}
	reg := &consulapi.AgentServiceRegistration{Name: "worker", Checks: consulapi.AgentServiceChecks{
		{TTL: "1500ms"}, // beats every 500ms: a stalled beat or two does not expire it
		{CheckID: "worker-own", TTL: "3s"},
	}}
	r, err := register.Register(context.Background(), a.Client, reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Deregister(context.Background()) })
	for _, id := range []string{"service:worker:1", "worker-own"} {
		testagent.WaitFor(t, 15*time.Second, id+" passing", func() bool { return checkStatus(a.Client, id) == consulapi.HealthPassing })
	}
	healthy <- errors.New("database unreachable")
	testagent.WaitFor(t, 15*time.Second, "critical with the health error", func() bool {
		checks, err := a.Client.Agent().Checks()
		c := checks["worker-own"]
		return err == nil && c != nil && c.Status == consulapi.HealthCritical && c.Output == "database unreachable"
	})
	// Passing beats keep the checks passing well past their TTLs.
	healthy <- nil
	testagent.WaitFor(t, 15*time.Second, "passing again", func() bool { return checkStatus(a.Client, "service:worker:1") == consulapi.HealthPassing })
	time.Sleep(3 * time.Second)
	if s := checkStatus(a.Client, "service:worker:1"); s != consulapi.HealthPassing {
		t.Errorf("after 2 TTLs of heartbeats status = %q, want passing", s)
	}
}

func TestWaitsForTheAgent(t *testing.T) {
	port := freePort(t)
	c, err := api.NewClient(&api.Config{Address: net.JoinHostPort("127.0.0.1", itoa(port))})
	if err != nil {
		t.Fatal(err)
	}
	type res struct {
		r   *register.Registration
		err error
	}
	got := make(chan res, 1)
	go func() {
		r, err := register.Register(context.Background(), c, &consulapi.AgentServiceRegistration{Name: "early"}, fast)
		got <- res{r, err}
	}()
	time.Sleep(200 * time.Millisecond) // a few failed attempts
	a := testagent.Start(t, func(cfg *config.Config) { cfg.Ports.HTTP = port })
	select {
	case g := <-got:
		if g.err != nil {
			t.Fatal(g.err)
		}
		t.Cleanup(func() { g.r.Deregister(context.Background()) })
	case <-time.After(15 * time.Second):
		t.Fatal("Register did not succeed once the agent started")
	}
	if !registered(a.Client, "early") {
		t.Error("not registered")
	}
}

func TestContextEndsWhileWaiting(t *testing.T) {
	c, err := api.NewClient(&api.Config{Address: net.JoinHostPort("127.0.0.1", itoa(freePort(t)))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = register.Register(ctx, c, &consulapi.AgentServiceRegistration{Name: "x"}, fast)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
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

func itoa(n int) string { return strconv.Itoa(n) }
