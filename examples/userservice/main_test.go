package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	agentconfig "github.com/musterhq/muster/internal/config"
	"github.com/musterhq/muster/internal/testagent"
)

func TestHandlers(t *testing.T) {
	srv := httptest.NewServer(newHandler("10.0.0.7:5727", slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)

	type testcase struct {
		path     string
		wantCode int
		check    func(t *testing.T, body []byte)
	}
	tests := map[string]testcase{
		"all": {"/api/users/all", 200, func(t *testing.T, body []byte) {
			var got []User
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 {
				t.Fatalf("got %d users, want 3", len(got))
			}
			for i, u := range got {
				if u.ID != i+1 || u.Instance != "10.0.0.7:5727" || u.Account == "" || u.LoginTime.IsZero() {
					t.Errorf("user %d: %+v", i, u)
				}
			}
		}},
		"get": {"/api/users/get?id=2", 200, func(t *testing.T, body []byte) {
			var u User
			if err := json.Unmarshal(body, &u); err != nil {
				t.Fatal(err)
			}
			if u.ID != 2 || u.Account != "Apple" || u.Instance != "10.0.0.7:5727" {
				t.Errorf("got %+v", u)
			}
		}},
		"get unknown": {"/api/users/get?id=42", 404, func(t *testing.T, body []byte) {
			var e apiError
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatal(err)
			}
			if e.Error != "user 42 not found" || e.Instance != "10.0.0.7:5727" {
				t.Errorf("got %+v", e)
			}
		}},
		"get bad id": {"/api/users/get?id=x", 400, nil},
		"health": {"/api/health/index", 200, func(t *testing.T, body []byte) {
			if string(body) != "ok" {
				t.Errorf("body %q, want ok", body)
			}
		}},
		"seed's casing": {"/Api/Health/Index", 200, nil},
		"no password":   {"/api/users/get?id=1", 200, noPassword},
		"unknown path":  {"/api/users", 404, nil},
	}
	run := func(t *testing.T, tc testcase) {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.wantCode {
			t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.wantCode, body)
		}
		if tc.check != nil {
			tc.check(t, body)
		}
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func noPassword(t *testing.T, body []byte) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["Password"]; ok {
		t.Errorf("answer shows a password: %s", body)
	}
}

func TestFlags(t *testing.T) {
	type testcase struct {
		args                 []string
		wantIP, wantListen   string
		wantPort, wantWeight int
	}
	tests := map[string]testcase{
		"defaults":     {nil, "127.0.0.1", "127.0.0.1:5726", 5726, 1},
		"ip and port":  {[]string{"--ip=10.1.2.3", "--port=6000", "--weight=5"}, "10.1.2.3", "10.1.2.3:6000", 6000, 5},
		"seed's urls":  {[]string{`--urls=http://*:5727`, "--ip=127.0.0.1", "--port=5727"}, "127.0.0.1", ":5727", 5727, 1},
		"concrete url": {[]string{"--urls=http://10.9.9.9:5728", "--port=1", "--weight=10"}, "10.9.9.9", "10.9.9.9:5728", 5728, 10},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := parseFlags(tc.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if c.IP != tc.wantIP || c.Listen != tc.wantListen || c.Port != tc.wantPort || c.Weight != tc.wantWeight || c.Name != "UserService" {
				t.Errorf("got %+v", c)
			}
		})
	}
	for _, bad := range [][]string{{"--weight=0"}, {"--urls=ftp://x:1"}, {"--urls=http://x"}, {"extra"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

// TestRegisterWithAgent runs the whole program against a real dev agent:
// it registers as ConsulRegist does, its check URL answers, and a signal
// (a cancelled context) deregisters it and exits 0.
func TestRegisterWithAgent(t *testing.T) {
	a := testagent.Start(t)
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"--port=" + strconv.Itoa(port), "--weight=5", "--agent=" + a.Addr}, io.Discard)
	}()

	id := "UserService-127.0.0.1-" + strconv.Itoa(port)
	testagent.WaitFor(t, 10*time.Second, "the registration", func() bool {
		svcs, err := a.Client.Agent().Services()
		return err == nil && svcs[id] != nil
	})
	svc, _, err := a.Client.Agent().Service(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if svc.Service != "UserService" || svc.Address != "127.0.0.1" || svc.Port != port ||
		svc.Meta["weight"] != "5" || svc.Weights.Passing != 5 || svc.Weights.Warning != 1 ||
		len(svc.Tags) != 1 || svc.Tags[0] != "5" {
		t.Errorf("registered %+v", svc)
	}
	checks, err := a.Client.Agent().Checks()
	if err != nil {
		t.Fatal(err)
	}
	chk := checks["service:"+id]
	if chk == nil {
		t.Fatalf("no check for %s in %v", id, checks)
	}
	d := chk.Definition
	if d.Interval.String() != "12s" || d.Timeout.String() != "5s" || d.DeregisterCriticalServiceAfter.String() != "20s" {
		t.Errorf("check definition %+v", d)
	}
	// What the agent will poll answers 200.
	resp, err := http.Get(d.HTTP)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET %s: %s", d.HTTP, resp.Status)
	}

	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	svcs, err := a.Client.Agent().Services()
	if err != nil {
		t.Fatal(err)
	}
	if svcs[id] != nil {
		t.Errorf("%s still registered after shutdown", id)
	}
}

// TestRegisterRetries starts the service before anything listens on the
// agent's address, as in compose; it must register once the agent is up.
func TestRegisterRetries(t *testing.T) {
	agentPort := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"--port=" + strconv.Itoa(freePort(t)), "--agent=127.0.0.1:" + strconv.Itoa(agentPort)}, io.Discard)
	}()
	time.Sleep(500 * time.Millisecond) // let a few attempts fail
	a := testagent.Start(t, func(c *agentconfig.Config) { c.Ports.HTTP = agentPort })
	testagent.WaitFor(t, 10*time.Second, "the late registration", func() bool {
		svcs, _, err := a.Client.Health().Service("UserService", "", false, nil)
		return err == nil && len(svcs) == 1
	})
	cancel()
	if code := <-exited; code != 0 {
		t.Errorf("exit code %d", code)
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
