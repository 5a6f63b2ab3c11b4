package ui_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/musterhq/muster/internal/testagent"
)

// Browser tests drive headless Chromium (Debian's chromium package) with
// chromedp against a real dev agent. They skip when no Chromium is
// installed; .ci/run installs it. MUSTER_UI_SCREENSHOTS=DIR saves a
// screenshot of each page there (docs/ui holds the committed ones).

// browserTimeout bounds one browser test.
const browserTimeout = 60 * time.Second

// chromiumPath finds the browser, or skips the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH (apt-get install chromium)")
	return ""
}

// browser is one headless Chromium tab pointed at an agent's UI.
type browser struct {
	ctx   context.Context
	agent *testagent.Agent
	base  string // http://host:port/ui/
}

// newBrowser starts Chromium for t with a narrow or wide window, and a dev
// agent unless one is given. Everything stops in t.Cleanup.
func newBrowser(t *testing.T, a *testagent.Agent, width, height int) *browser {
	t.Helper()
	path := chromiumPath(t)
	if a == nil {
		a = testagent.Start(t)
	}
	// Not t.TempDir: Chromium's helper processes may still be writing to
	// the profile when the browser has exited, which fails its cleanup.
	profile, err := os.MkdirTemp("", "muster-ui-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(width, height),
		chromedp.UserDataDir(profile),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	// The protocol bindings are older than Debian's Chromium: events with
	// enum values they do not know fail to decode. Those events are ones
	// the tests do not use, so their errors are dropped, not logged.
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithErrorf(func(format string, args ...any) {
		if msg := fmt.Sprintf(format, args...); !strings.Contains(msg, "could not unmarshal event") {
			t.Logf("chromedp: %s", msg)
		}
	}))
	ctx, cancelTimeout := context.WithTimeout(ctx, browserTimeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		for range 20 {
			if os.RemoveAll(profile) == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	if err := chromedp.Run(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{ctx: ctx, agent: a, base: "http://" + a.Addr + "/ui/"}
}

// run runs chromedp actions, failing the test on error.
func (b *browser) run(t *testing.T, what string, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(b.ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// open navigates to a UI route ("#/services") and waits for sel.
func (b *browser) open(t *testing.T, route, sel string) {
	t.Helper()
	b.run(t, "open "+route, chromedp.Navigate(b.base+route), chromedp.WaitVisible(sel, chromedp.ByQuery))
}

// text returns the text of the first element matching sel.
func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	var s string
	b.run(t, "text of "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
	return s
}

// waitText polls until the text of sel contains want, without reloading
// the page: what the live queries bring in.
func (b *browser) waitText(t *testing.T, sel, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		var s string
		ctx, cancel := context.WithTimeout(b.ctx, time.Second)
		err := chromedp.Run(ctx, chromedp.Text(sel, &s, chromedp.ByQuery, chromedp.AtLeast(0)))
		cancel()
		if err == nil && strings.Contains(s, want) {
			return
		}
		last = s
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: text %q does not contain %q after %v", sel, last, want, timeout)
}

// eval evaluates the JavaScript expression expr in the page into res.
func (b *browser) eval(t *testing.T, expr string, res any) {
	t.Helper()
	b.run(t, "evaluate "+expr, chromedp.Evaluate(expr, res))
}

// waitJS polls the JavaScript expression expr, without reloading the page,
// until its value (as JSON decodes it: a bool, string or float64) equals
// want; it fails t, naming what and the last value, after timeout.
func (b *browser) waitJS(t *testing.T, what, expr string, want any, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last any
	for time.Now().Before(deadline) {
		var got any
		ctx, cancel := context.WithTimeout(b.ctx, time.Second)
		err := chromedp.Run(ctx, chromedp.Evaluate(expr, &got))
		cancel()
		if err == nil && reflect.DeepEqual(got, want) {
			return
		}
		last = got
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %s = %v, want %v after %v", what, expr, last, want, timeout)
}

// screenshot saves the page as name.png in $MUSTER_UI_SCREENSHOTS, if set.
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	dir := os.Getenv("MUSTER_UI_SCREENSHOTS")
	if dir == "" {
		return
	}
	var png []byte
	b.run(t, "screenshot", chromedp.FullScreenshot(&png, 100)) // quality 100: PNG; below it, JPEG
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestShell(t *testing.T) {
	b := newBrowser(t, nil, 1280, 800)
	b.open(t, "", "#nav")
	var hash string
	b.run(t, "location", chromedp.Evaluate(`location.hash`, &hash))
	if hash != "#/services" {
		t.Errorf("start page hash = %q, want #/services", hash)
	}
	b.waitText(t, "#agent", b.agent.Config.NodeName, 10*time.Second)
}
