package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/internal/cli"
	"github.com/musterhq/muster/internal/testagent"
)

// waitTimeout bounds every poll in these tests; it is a failure deadline,
// not an expected duration.
const waitTimeout = 10 * time.Second

// background is a command running in a goroutine until stopped.
type background struct {
	out, err *syncBuffer
	cancel   context.CancelFunc
	done     chan int // receives the exit code
}

// startCLI runs the muster command line args in the background. The test
// must call stop (a cleanup does, if it has not).
func startCLI(t *testing.T, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{out: &syncBuffer{}, err: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() { b.done <- cli.Run(ctx, &cli.UI{Out: b.out, Err: b.err}, args) }()
	t.Cleanup(func() { b.stop(t) })
	return b
}

// stop cancels the command, as SIGINT does, and returns its exit code.
func (b *background) stop(t *testing.T) int {
	t.Helper()
	b.cancel()
	select {
	case code := <-b.done:
		b.done <- code // for a second stop
		return code
	case <-time.After(waitTimeout):
		t.Fatalf("command still running %v after cancel", waitTimeout)
		return -1
	}
}

// decodeAll decodes the JSON values written one after another to s.
func decodeAll[T any](t *testing.T, s string) []T {
	t.Helper()
	var out []T
	dec := json.NewDecoder(strings.NewReader(s))
	for {
		var v T
		if err := dec.Decode(&v); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("output is not a stream of JSON values: %v\n%s", err, s)
		}
		out = append(out, v)
	}
}

// values is the values of the KV pairs, "<nil>" for a missing key.
func values(pairs []*consulapi.KVPair) []string {
	out := make([]string, len(pairs))
	for i, p := range pairs {
		if p == nil {
			out[i] = "<nil>"
		} else {
			out[i] = string(p.Value)
		}
	}
	return out
}

// Without a handler, watch prints the current view and ends, as Consul's.
func TestWatchKeyPrintsOnce(t *testing.T) {
	a := testagent.Start(t)
	put(t, a.Client, "config/mode", "blue")
	w := startCLI(t, "watch", "-http-addr="+a.Addr, "-type=key", "-key=config/mode")
	views := func() []*consulapi.KVPair { return decodeAll[*consulapi.KVPair](t, w.out.String()) }

	select {
	case code := <-w.done:
		w.done <- code
		if code != 0 {
			t.Errorf("exit code = %d, want 0 (stderr %q)", code, w.err.String())
		}
	case <-time.After(waitTimeout):
		t.Fatal("watch without a handler did not end after the first view")
	}
	if got := values(views()); strings.Join(got, ",") != "blue" {
		t.Errorf("views = %q, want [blue]\n%s", got, w.out.String())
	}
	if !strings.HasPrefix(w.out.String(), "{\n    \"Key\": \"config/mode\",\n") {
		t.Errorf("output = %q, want JSON indented by four spaces", w.out.String())
	}
	if w.err.String() != "" {
		t.Errorf("stderr = %q, want none", w.err.String())
	}
}

func TestWatchMissingKeyIsNull(t *testing.T) {
	a := testagent.Start(t)
	r := runCLI(context.Background(), "watch", "-http-addr="+a.Addr, "-type=key", "-key=later")
	if got := values(decodeAll[*consulapi.KVPair](t, r.out)); r.code != 0 || strings.Join(got, ",") != "<nil>" {
		t.Errorf("exit %d, views %q; want 0 and [<nil>]", r.code, got)
	}
}

func TestWatchHandlerGetsEachView(t *testing.T) {
	a := testagent.Start(t)
	dir := t.TempDir()
	views, indexes := filepath.Join(dir, "views"), filepath.Join(dir, "indexes")
	put(t, a.Client, "app/a", "1")
	// The handler's words are joined and run by the shell, as in Consul.
	w := startCLI(t, "watch", "-http-addr="+a.Addr, "-type=keyprefix", "-prefix=app/",
		"echo", "$CONSUL_INDEX", ">>", indexes, ";", "cat", ">>", views)
	read := func(file string) string {
		b, err := os.ReadFile(file)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return string(b)
	}
	lists := func() [][]*consulapi.KVPair { return decodeAll[[]*consulapi.KVPair](t, read(views)) }

	testagent.WaitFor(t, waitTimeout, "the first view", func() bool { return len(lists()) == 1 })
	put(t, a.Client, "app/b", "2")
	testagent.WaitFor(t, waitTimeout, "the second view", func() bool { return len(lists()) == 2 })
	if code := w.stop(t); code != 0 {
		t.Errorf("exit code = %d, want 0 (stderr %q)", code, w.err.String())
	}
	got := lists()
	if len(got[0]) != 1 || len(got[1]) != 2 || strings.Join(values(got[1]), ",") != "1,2" {
		t.Errorf("views = %s, want [a] then [a b]", read(views))
	}
	if lines := strings.Count(read(views), "\n"); lines != 2 {
		t.Errorf("views file has %d lines, want one JSON line per view", lines)
	}
	idx := strings.Fields(read(indexes))
	if len(idx) != 2 {
		t.Fatalf("CONSUL_INDEX values = %q, want two", idx)
	}
	for i, s := range idx {
		n, err := strconv.ParseUint(s, 10, 64)
		if want := got[i][len(got[i])-1].ModifyIndex; err != nil || n < want {
			t.Errorf("CONSUL_INDEX %d = %q, want an index of at least %d", i, s, want)
		}
	}
}

func TestWatchFailingHandlerEndsTheWatch(t *testing.T) {
	a := testagent.Start(t)
	r := runCLI(context.Background(), "watch", "-http-addr="+a.Addr, "-type=services", "exit 3")
	if r.code != 1 || !strings.Contains(r.err, "Error executing handler: exit status 3") {
		t.Errorf("exit %d, stderr %q; want 1 and the handler's failure", r.code, r.err)
	}
}

// TestWatchTypes checks the first view of each type.
func TestWatchTypes(t *testing.T) {
	a := testagent.Start(t)
	err := a.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
		ID: "web-1", Name: "web", Tags: []string{"v1"},
		Check: &consulapi.AgentServiceCheck{CheckID: "web-ttl", TTL: "1h", Status: consulapi.HealthPassing},
	})
	if err != nil {
		t.Fatal(err)
	}
	type testcase struct {
		args  []string
		check func(t *testing.T, view string) // the first view, as printed
	}
	run := func(t *testing.T, tc testcase) {
		w := startCLI(t, append([]string{"watch", "-http-addr=" + a.Addr}, tc.args...)...)
		testagent.WaitFor(t, waitTimeout, "the first view", func() bool { return len(decodeAll[any](t, w.out.String())) > 0 })
		if code := w.stop(t); code != 0 || w.err.String() != "" {
			t.Errorf("exit %d, stderr %q; want 0 and none", code, w.err.String())
		}
		tc.check(t, w.out.String())
	}
	cases := map[string]testcase{
		"services": {
			args: []string{"-type=services"},
			check: func(t *testing.T, view string) {
				got := decodeAll[map[string][]string](t, view)[0]
				if tags, ok := got["web"]; !ok || strings.Join(tags, ",") != "v1" {
					t.Errorf("view = %v, want web with tag v1", got)
				}
			},
		},
		"nodes": {
			args: []string{"-type=nodes", `-filter=Node == "` + a.Config.NodeName + `"`},
			check: func(t *testing.T, view string) {
				got := decodeAll[[]*consulapi.Node](t, view)[0]
				if len(got) != 1 || got[0].Node != a.Config.NodeName {
					t.Errorf("view = %s, want this node", view)
				}
			},
		},
		"service": {
			args: []string{"-type=service", "-service=web", "-tag=v1", "-passingonly=true"},
			check: func(t *testing.T, view string) {
				got := decodeAll[[]*consulapi.ServiceEntry](t, view)[0]
				if len(got) != 1 || got[0].Service.ID != "web-1" {
					t.Errorf("view = %s, want web-1", view)
				}
			},
		},
		"service with another tag": {
			args: []string{"-type=service", "-service=web", "-tag=v2"},
			check: func(t *testing.T, view string) {
				if got := decodeAll[[]*consulapi.ServiceEntry](t, view)[0]; len(got) != 0 {
					t.Errorf("view = %s, want no instances", view)
				}
			},
		},
		"checks of a service": {
			args: []string{"-type=checks", "-service=web"},
			check: func(t *testing.T, view string) {
				got := decodeAll[[]*consulapi.HealthCheck](t, view)[0]
				if len(got) != 1 || got[0].CheckID != "web-ttl" {
					t.Errorf("view = %s, want web-ttl", view)
				}
			},
		},
		"checks in a state": {
			args: []string{"-type=checks", "-state=passing", `-filter=ServiceName == "web"`},
			check: func(t *testing.T, view string) {
				got := decodeAll[[]*consulapi.HealthCheck](t, view)[0]
				if len(got) != 1 || got[0].CheckID != "web-ttl" {
					t.Errorf("view = %s, want web-ttl", view)
				}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func TestWatchBadInput(t *testing.T) {
	a := testagent.Start(t)
	// An address nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := l.Addr().String()
	l.Close()

	type testcase struct {
		args    []string
		addr    string // default a.Addr
		wantErr string
	}
	run := func(t *testing.T, tc testcase) {
		addr := tc.addr
		if addr == "" {
			addr = a.Addr
		}
		r := runCLI(context.Background(), append([]string{"watch", "-http-addr=" + addr}, tc.args...)...)
		if r.code != 1 || r.out != "" || !strings.Contains(r.err, tc.wantErr) {
			t.Errorf("exit %d, stdout %q, stderr %q; want 1, none and %q", r.code, r.out, r.err, tc.wantErr)
		}
	}
	cases := map[string]testcase{
		"no type":              {wantErr: "Watch type must be specified\n\nUsage: muster watch"},
		"unknown type":         {args: []string{"-type=frob"}, wantErr: "Unsupported watch type: frob"},
		"event type":           {args: []string{"-type=event"}, wantErr: "Unsupported watch type: event (muster has no user events)"},
		"key without key":      {args: []string{"-type=key"}, wantErr: "Must specify a single key to watch"},
		"keyprefix w/o prefix": {args: []string{"-type=keyprefix"}, wantErr: "Must specify a single prefix to watch"},
		"service w/o service":  {args: []string{"-type=service"}, wantErr: "Must specify a single service to watch"},
		"option of another type": {
			args:    []string{"-type=key", "-key=k", "-state=passing", "-prefix=p"},
			wantErr: "Invalid parameters for -type=key: -prefix, -state",
		},
		"service and state": {
			args:    []string{"-type=checks", "-service=web", "-state=passing"},
			wantErr: "Cannot specify service and state",
		},
		"bad state":       {args: []string{"-type=checks", "-state=sad"}, wantErr: "Unsupported state: sad"},
		"bad passingonly": {args: []string{"-type=service", "-service=web", "-passingonly=maybe"}, wantErr: "Failed to parse passingonly flag"},
		"bad filter": {
			args:    []string{"-type=services", "-filter=ServiceName =="},
			wantErr: "Error querying muster agent: Unexpected response code: 400",
		},
		"agent down at the start": {
			args:    []string{"-type=services"},
			addr:    deadAddr,
			wantErr: "Error querying muster agent:",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}
