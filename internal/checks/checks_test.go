package checks

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
)

// Test checks probe every testInterval, far below MinInterval (see
// testOptions). waitTimeout is how long a test waits for a notification
// before it fails: generous, since -race on a busy machine is slow, and
// costless when things work, since waits end at the notification.
const (
	testInterval = 10 * time.Millisecond
	waitTimeout  = 10 * time.Second
)

// testOptions lets checks run every millisecond, enables script checks and
// logs at debug level to the test's output.
func testOptions(t *testing.T) Options {
	return Options{
		Logger:             slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		EnableScriptChecks: true,
		minInterval:        time.Millisecond,
	}
}

// start starts spec with testOptions and stops it in t.Cleanup.
func start(t *testing.T, spec Spec, n Notifier) *Runner {
	t.Helper()
	return startWith(t, spec, n, testOptions(t))
}

func startWith(t *testing.T, spec Spec, n Notifier, opts Options) *Runner {
	t.Helper()
	r, err := Start(spec, n, opts)
	if err != nil {
		t.Fatalf("Start(%+v): %v", spec, err)
	}
	t.Cleanup(r.Stop)
	return r
}

type update struct {
	id, status, output string
}

// recorder is a Notifier that keeps every update, lets a test wait for the
// one it expects, and fails the test on an update after seal.
type recorder struct {
	t       *testing.T
	changed chan struct{} // receives (without blocking) after each update

	mu      sync.Mutex
	updates []update // guarded by mu
	next    int      // guarded by mu; updates before it were consumed by a wait
	sealed  bool     // guarded by mu
}

func newRecorder(t *testing.T) *recorder {
	return &recorder{t: t, changed: make(chan struct{}, 1)}
}

func (r *recorder) UpdateCheck(id, status, output string) {
	r.mu.Lock()
	if r.sealed {
		r.t.Errorf("notification after Stop returned: %s %s %q", id, status, output)
	}
	r.updates = append(r.updates, update{id, status, output})
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// waitFor waits for the next update with the given status (updates of other
// statuses before it are skipped) and returns it.
func (r *recorder) waitFor(t *testing.T, status string) update {
	t.Helper()
	return r.waitMatch(t, "status "+status, func(u update) bool { return u.status == status })
}

// waitMatch waits for the next update that match accepts. Each wait starts
// after the update the previous one returned.
func (r *recorder) waitMatch(t *testing.T, desc string, match func(update) bool) update {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		for i := r.next; i < len(r.updates); i++ {
			if match(r.updates[i]) {
				r.next = i + 1
				u := r.updates[i]
				r.mu.Unlock()
				return u
			}
		}
		r.next = len(r.updates)
		r.mu.Unlock()
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("no update with %s within %s; all updates: %+v", desc, waitTimeout, r.all())
		}
	}
}

// waitCount waits until there have been at least n updates in all.
func (r *recorder) waitCount(t *testing.T, n int) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for len(r.all()) < n {
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("%d updates within %s, want %d", len(r.all()), waitTimeout, n)
		}
	}
}

func (r *recorder) all() []update {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]update(nil), r.updates...)
}

// seal makes any later update fail the test.
func (r *recorder) seal() {
	r.mu.Lock()
	r.sealed = true
	r.mu.Unlock()
}

// receive returns the next value from ch, failing the test after waitTimeout.
func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("nothing received within %s", waitTimeout)
		panic("unreachable")
	}
}

// closedAddr returns a loopback TCP address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// newTestCert returns a self-signed certificate for the name "checks.test"
// and for 127.0.0.1, and a pool that trusts it.
func newTestCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "checks.test"},
		DNSNames:              []string{"checks.test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
