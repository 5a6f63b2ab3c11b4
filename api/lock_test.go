package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/internal/testagent"
)

func TestLockWaiters(t *testing.T) {
	a := testagent.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	newSession := func() string {
		id, _, err := a.Client.Session().Create(&consul.SessionEntry{TTL: "30s"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	holder, w1, w2 := newSession(), newSession(), newSession()
	if got, err := a.Client.Acquire(ctx, "job", holder, nil); err != nil || !got.Acquired {
		t.Fatalf("acquire: %+v %v", got, err)
	}
	if ws, err := a.Client.LockWaiters(ctx, "job"); err != nil || len(ws) != 0 {
		t.Fatalf("waiters of a held key nobody waits for: %v %v", ws, err)
	}
	for i, s := range []string{w1, w2} {
		go a.Client.AcquireWait(ctx, "job", s, nil, time.Minute)
		testagent.WaitFor(t, 5*time.Second, "waiter queued", func() bool {
			ws, err := a.Client.LockWaiters(ctx, "job")
			return err == nil && len(ws) == i+1
		})
	}
	ws, err := a.Client.LockWaiters(ctx, "job")
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 || ws[0].Session != w1 || ws[0].Position != 1 || ws[1].Session != w2 || ws[1].Position != 2 ||
		ws[0].Key != "job" || ws[0].Since >= ws[1].Since || ws[0].Deadline.Before(time.Now()) {
		t.Errorf("waiters = %+v, want %s then %s", ws, w1, w2)
	}
}

func TestLockWaitersNotMuster(t *testing.T) {
	// What Consul answers for a path it does not serve.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Invalid URL path: not a recognized HTTP API endpoint", http.StatusNotFound)
	}))
	defer srv.Close()
	c, err := api.NewClient(&api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.LockWaiters(context.Background(), "job"); !errors.Is(err, api.ErrNotMuster) {
		t.Errorf("err = %v, want ErrNotMuster", err)
	}
}
