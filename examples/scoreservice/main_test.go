package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/musterhq/muster/examples/scoreservice/scorepb"
	"github.com/musterhq/muster/internal/testagent"
)

func TestGetScore(t *testing.T) {
	s := &scoreServer{log: slog.New(slog.DiscardHandler)}
	for name, lesson := range map[string]string{"seed's lesson": "123", "empty": "", "any other": "x-9"} {
		t.Run(name, func(t *testing.T) {
			reply, err := s.GetScore(context.Background(), &scorepb.ScoreRequest{LessonId: lesson})
			if err != nil {
				t.Fatal(err)
			}
			if reply.GetScore() != 100 {
				t.Errorf("score %d, want 100", reply.GetScore())
			}
		})
	}
}

func TestFlags(t *testing.T) {
	type testcase struct {
		args []string
		want config
	}
	tests := map[string]testcase{
		"defaults": {nil, config{Name: "scoreservice", IP: "127.0.0.1", Port: 9898, Weight: 1,
			CheckInterval: 10 * time.Second, Drain: 15 * time.Second}},
		"all": {
			[]string{"--name=Score", "--ip=10.0.0.7", "--port=5800", "--weight=5", "--agent=10.0.0.1:8500", "--check-interval=2s", "--drain=0"},
			config{Name: "Score", IP: "10.0.0.7", Port: 5800, Weight: 5, Agent: "10.0.0.1:8500", CheckInterval: 2 * time.Second},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := parseFlags(tc.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if *c != tc.want {
				t.Errorf("got %+v, want %+v", *c, tc.want)
			}
		})
	}
	for _, bad := range [][]string{{"--weight=0"}, {"--check-interval=0s"}, {"--drain=-1s"}, {"extra"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

func TestRegistration(t *testing.T) {
	c := &config{Name: "scoreservice", IP: "10.0.0.7", Port: 5800, Weight: 5, CheckInterval: 3 * time.Second}
	r := registration(c)
	if r.ID != "scoreservice-10.0.0.7-5800" || r.Name != "scoreservice" || r.Address != "10.0.0.7" || r.Port != 5800 ||
		r.Meta["weight"] != "5" || r.Weights.Passing != 5 || r.Weights.Warning != 1 {
		t.Errorf("registration %+v", r)
	}
	ck := r.Check
	if ck.GRPC != "10.0.0.7:5800/score.Score" || ck.Interval != "3s" || ck.Timeout != "5s" || ck.DeregisterCriticalServiceAfter != "1m" {
		t.Errorf("check %+v", ck)
	}
}

// service is one run of the program against an agent.
type service struct {
	id, addr string
	signals  chan os.Signal
	exited   chan int
}

// startService runs the program with args plus its port and the agent's
// address, and stops it (two signals: no drain) in t.Cleanup.
func startService(t *testing.T, a *testagent.Agent, args ...string) *service {
	t.Helper()
	port := freePort(t)
	s := &service{
		id:      "scoreservice-127.0.0.1-" + strconv.Itoa(port),
		addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		signals: make(chan os.Signal, 2),
		exited:  make(chan int, 1),
	}
	args = append(args, "--port="+strconv.Itoa(port), "--agent="+a.Addr)
	out := t.Output()
	go func() { s.exited <- run(s.signals, args, out) }()
	t.Cleanup(func() {
		for range 2 {
			select {
			case s.signals <- syscall.SIGTERM:
			default:
			}
		}
		s.wait(t)
	})
	return s
}

// wait waits for the program to exit and checks that it exited 0. It may
// be called more than once.
func (s *service) wait(t *testing.T) {
	t.Helper()
	select {
	case code, ok := <-s.exited:
		if ok {
			close(s.exited)
			if code != 0 {
				t.Errorf("exit code %d, want 0", code)
			}
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the service did not exit after its signals")
	}
}

// checkStatus is the status of the instance's gRPC check on the agent, or
// "" if the agent does not list it.
func checkStatus(a *testagent.Agent, id string) string {
	checks, err := a.Client.Agent().Checks()
	if err != nil || checks["service:"+id] == nil {
		return ""
	}
	return checks["service:"+id].Status
}

// passing is how many instances of scoreservice the agent reports passing.
func passing(a *testagent.Agent) int {
	entries, _, err := a.Client.Health().Service("scoreservice", "", true, nil)
	if err != nil {
		return -1
	}
	return len(entries)
}

// dial opens a gRPC client connection to addr, closed in t.Cleanup.
func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func getScore(t *testing.T, conn *grpc.ClientConn) int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reply, err := scorepb.NewScoreClient(conn).GetScore(ctx, &scorepb.ScoreRequest{LessonId: "123"})
	if err != nil {
		t.Fatalf("GetScore: %v", err)
	}
	return reply.GetScore()
}

// TestRegisterWithAgent runs the program against a real dev agent: the
// agent's gRPC check passes, GetScore answers over a real connection, and
// a signal (with no drain) deregisters the instance and exits 0.
func TestRegisterWithAgent(t *testing.T) {
	a := testagent.Start(t)
	s := startService(t, a, "--check-interval=1s", "--drain=0s", "--weight=3")

	testagent.WaitFor(t, 15*time.Second, "the gRPC check to pass", func() bool { return passing(a) == 1 })
	svc, _, err := a.Client.Agent().Service(s.id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if svc.Service != "scoreservice" || svc.Address != "127.0.0.1" || svc.Weights.Passing != 3 {
		t.Errorf("registered %+v", svc)
	}
	if got := getScore(t, dial(t, s.addr)); got != 100 {
		t.Errorf("GetScore: %d, want 100", got)
	}

	s.signals <- syscall.SIGTERM
	s.wait(t)
	if svcs, err := a.Client.Agent().Services(); err != nil || svcs[s.id] != nil {
		t.Errorf("after shutdown: %s still registered (err %v)", s.id, err)
	}
	entries, _, err := a.Client.Health().Service("scoreservice", "", false, nil)
	if err != nil || len(entries) != 0 {
		t.Errorf("after shutdown the catalog lists %d instances (err %v)", len(entries), err)
	}
}

// TestDrain checks the shutdown sequence: the first signal turns the
// health service NOT_SERVING, the agent's check goes critical and the
// instance leaves ?passing while it still answers GetScore; a second
// signal ends the drain, and the instance deregisters.
func TestDrain(t *testing.T) {
	a := testagent.Start(t)
	s := startService(t, a, "--check-interval=1s", "--drain=10m")
	testagent.WaitFor(t, 15*time.Second, "the gRPC check to pass", func() bool { return passing(a) == 1 })
	conn := dial(t, s.addr)

	s.signals <- syscall.SIGTERM
	testagent.WaitFor(t, 15*time.Second, "the gRPC check to go critical", func() bool {
		return checkStatus(a, s.id) == consulapi.HealthCritical
	})
	if n := passing(a); n != 0 {
		t.Errorf("%d passing instances while draining, want 0", n)
	}
	health := healthpb.NewHealthClient(conn)
	for _, name := range []string{"", "score.Score"} {
		resp, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: name})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("Health/Check(%q) while draining: %v, %v; want NOT_SERVING", name, resp.GetStatus(), err)
		}
	}
	if got := getScore(t, conn); got != 100 {
		t.Errorf("GetScore while draining: %d, want 100", got)
	}

	s.signals <- syscall.SIGTERM
	s.wait(t)
	if status := checkStatus(a, s.id); status != "" {
		t.Errorf("after the drain the check is still there, %s", status)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
