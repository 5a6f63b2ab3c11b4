package checks

import (
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestStartErrors(t *testing.T) {
	if _, err := Start(Spec{ID: "c", TTL: time.Second}, nil, Options{}); err == nil {
		t.Error("Start with a nil Notifier succeeded")
	}
	var verr *ValidationError
	if _, err := Start(Spec{ID: "c"}, newRecorder(t), Options{}); !errors.As(err, &verr) {
		t.Errorf("Start of an invalid Spec: %v, want a *ValidationError", err)
	}
}

func TestIntervalRaisedToMinimum(t *testing.T) {
	addr := newTCPListener(t).Addr().String()
	r := startWith(t, Spec{ID: "db", TCP: addr, Interval: 10 * time.Millisecond}, newRecorder(t), Options{})
	if r.spec.Interval != MinInterval {
		t.Errorf("Interval = %s, want MinInterval (%s)", r.spec.Interval, MinInterval)
	}
	spec := Spec{ID: "db", TCP: addr, Interval: 10 * time.Millisecond}
	startWith(t, spec, newRecorder(t), Options{})
	if spec.Interval != 10*time.Millisecond {
		t.Errorf("Start modified the caller's Spec")
	}
}

func TestStopStopsNotifications(t *testing.T) {
	addr := newTCPListener(t).Addr().String()
	stopped := newRecorder(t)
	r := start(t, Spec{ID: "stopped", TCP: addr, Interval: testInterval}, stopped)
	stopped.waitFor(t, Passing)
	r.Stop()
	stopped.seal()
	select {
	case <-r.done:
	default:
		t.Fatal("Stop returned before the runner's goroutine")
	}

	// While a control check with the same interval reports three times, the
	// stopped one must stay silent (the recorder fails the test otherwise).
	control := newRecorder(t)
	start(t, Spec{ID: "control", TCP: addr, Interval: testInterval}, control)
	control.waitCount(t, 3)
}

// Stop cancels a probe in flight, and drops its result.
func TestStopCancelsProbe(t *testing.T) {
	entered := make(chan struct{}, 1)
	cancelled := make(chan struct{}, 1)
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-r.Context().Done()
		cancelled <- struct{}{}
	})
	rec := newRecorder(t)
	r := start(t, Spec{ID: "web", HTTP: srv.URL, Interval: testInterval, Timeout: time.Hour}, rec)
	receive(t, entered)
	r.Stop()
	rec.seal()
	receive(t, cancelled)
	if all := rec.all(); len(all) != 0 {
		t.Errorf("updates %+v, want none", all)
	}
}

func TestStopIdempotent(t *testing.T) {
	addr := newTCPListener(t).Addr().String()
	for _, spec := range []Spec{
		{ID: "tcp", TCP: addr, Interval: testInterval},
		{ID: "ttl", TTL: time.Hour},
	} {
		r := start(t, spec, newRecorder(t))
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(r.Stop)
		}
		wg.Wait()
		r.Stop()
	}
}

// Thresholds apply to real probes: with FailuresBeforeWarning 2 and
// FailuresBeforeCritical 3, an outage shows first as warning, then critical.
func TestThresholds(t *testing.T) {
	var code atomic.Int32
	code.Store(http.StatusOK)
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(code.Load()))
	})
	rec := newRecorder(t)
	start(t, Spec{
		ID: "web", HTTP: srv.URL, Interval: testInterval,
		SuccessBeforePassing: 2, FailuresBeforeWarning: 2, FailuresBeforeCritical: 3,
	}, rec)
	rec.waitFor(t, Passing)

	code.Store(http.StatusServiceUnavailable)
	notPassing := func(u update) bool { return u.status != Passing }
	if u := rec.waitMatch(t, "a failure", notPassing); u.status != Warning {
		t.Fatalf("first report of the outage: %s, want warning", u.status)
	}
	if u := rec.waitMatch(t, "a failure", notPassing); u.status != Critical {
		t.Fatalf("second report of the outage: %s, want critical", u.status)
	}

	code.Store(http.StatusOK)
	u := rec.waitMatch(t, "any status", func(u update) bool { return true })
	for u.status == Critical { // probes that ran before the recovery
		u = rec.waitMatch(t, "any status", func(u update) bool { return true })
	}
	if u.status != Passing {
		t.Errorf("after the recovery: %s, want passing", u.status)
	}
}

func TestUntilGrid(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		now      time.Time
		interval time.Duration
		want     time.Duration
	}{
		{"already on the grid", base, 10 * time.Second, 10 * time.Second},
		{"stretched to the next 100 ms", base.Add(30 * time.Millisecond), 10 * time.Second, 10*time.Second + 70*time.Millisecond},
		{"short interval, grid a tenth", base.Add(3 * time.Millisecond), time.Second, time.Second + 97*time.Millisecond},
		{"tiny interval", base.Add(time.Millisecond), 10 * time.Millisecond, 10 * time.Millisecond},
		{"no grid below 10 ns", base.Add(3), 5, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := untilGrid(tc.now, tc.interval); got != tc.want {
				t.Fatalf("untilGrid = %v, want %v", got, tc.want)
			}
		})
	}
}
