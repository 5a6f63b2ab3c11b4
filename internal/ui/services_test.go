package ui_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	consul "github.com/hashicorp/consul/api"
)

// Tests of the Services pages (pages/services.js). Helpers shared with
// nodes_test.go are prefixed sn.

// snRegister registers services on b's agent through the agent API.
func snRegister(t *testing.T, b *browser, regs ...*consul.AgentServiceRegistration) {
	t.Helper()
	for _, r := range regs {
		if err := b.agent.Client.Agent().ServiceRegister(r); err != nil {
			t.Fatalf("register %s: %v", r.ID, err)
		}
	}
}

// snTTL registers a service instance with one TTL check (ID "<id>-ttl")
// in the given state.
func snTTL(name, id, status, notes string, tags ...string) *consul.AgentServiceRegistration {
	return &consul.AgentServiceRegistration{
		Name: name, ID: id, Port: 8080, Tags: tags,
		Check: &consul.AgentServiceCheck{CheckID: id + "-ttl", TTL: "5m", Status: status, Notes: notes},
	}
}

// snHTTPServer is an httptest server answering 200 "ok", closed in t.Cleanup.
func snHTTPServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// snMark sets a marker in the page's window and returns it; while the
// marker stays, the page has not been reloaded.
func snMark(t *testing.T, b *browser) string {
	t.Helper()
	var v string
	b.eval(t, `window.__loadedAt = 'mark-' + Date.now()`, &v)
	return v
}

// snAssertNotReloaded fails if the marker set by snMark is gone.
func snAssertNotReloaded(t *testing.T, b *browser, mark string) {
	t.Helper()
	var v string
	b.eval(t, `String(window.__loadedAt)`, &v)
	if v != mark {
		t.Fatalf("page was reloaded: window.__loadedAt = %q, want %q", v, mark)
	}
}

// snNoOverflow fails if the page scrolls sideways.
func snNoOverflow(t *testing.T, b *browser, where string) {
	t.Helper()
	var res []int
	b.eval(t, `[document.documentElement.scrollWidth, window.innerWidth]`, &res)
	if len(res) != 2 || res[0] > res[1] {
		t.Errorf("%s: scrollWidth, innerWidth = %v: the body overflows sideways", where, res)
	}
}

// snNarrow makes the page a phone's, 390x844: headless Chromium does not
// make its window narrower than 500 px, so the viewport is emulated.
func snNarrow(t *testing.T, b *browser) {
	t.Helper()
	b.run(t, "narrow viewport", chromedp.EmulateViewport(390, 844))
	var w int
	b.eval(t, `window.innerWidth`, &w)
	if w != 390 {
		t.Fatalf("window.innerWidth = %d, want 390", w)
	}
}

// snSearch replaces the search box's text as a user typing would.
func snSearch(t *testing.T, b *browser, q string) {
	t.Helper()
	var ok bool
	b.eval(t, `(() => { const i = document.querySelector('#service-search'); i.value = ''; i.dispatchEvent(new Event('input')); return true })()`, &ok)
	if q != "" {
		b.run(t, "type "+q, chromedp.SendKeys("#service-search", q, chromedp.ByQuery))
	}
}

// snRows lists the data-service of the services table's rows.
func snRows(t *testing.T, b *browser) string {
	t.Helper()
	var s string
	b.eval(t, `[...document.querySelectorAll('#services tbody tr')].map(r => r.dataset.service).join(',')`, &s)
	return s
}

func TestServicesList(t *testing.T) {
	b := newBrowser(t, nil, 1280, 800)
	srv := snHTTPServer(t)
	snRegister(t, b,
		snTTL("web", "web-1", "passing", "", "v1", "http"),
		snTTL("web", "web-2", "critical", "", "v1", "http"),
		snTTL("api", "api-1", "warning", "", "grpc"),
		&consul.AgentServiceRegistration{
			Name: "db", ID: "db-1", Port: 5432, Tags: []string{"primary"},
			Check: &consul.AgentServiceCheck{CheckID: "db-1-http", HTTP: srv.URL, Interval: "1s"},
		},
	)
	b.open(t, "#/services", `#services tr[data-service="web"]`)

	tests := map[string]struct {
		row  string
		want []string
	}{
		"mixed":   {`tr[data-service="web"]`, []string{"1 passing", "1 critical", "v1", "http"}},
		"warning": {`tr[data-service="api"]`, []string{"1 warning", "grpc"}},
		"http":    {`tr[data-service="db"]`, []string{"1 passing", "primary"}}, // after its first run
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for _, w := range tc.want {
				b.waitText(t, tc.row, w, 15*time.Second)
			}
		})
	}
	var n string
	b.eval(t, `document.querySelector('tr[data-service="web"]').dataset.passing + '/' + document.querySelector('tr[data-service="web"]').dataset.critical`, &n)
	if n != "1/1" {
		t.Errorf("web passing/critical = %s, want 1/1", n)
	}

	// A check turning passing moves the count, without a reload.
	mark := snMark(t, b)
	if err := b.agent.Client.Agent().PassTTL("web-2-ttl", "recovered"); err != nil {
		t.Fatal(err)
	}
	b.waitText(t, `tr[data-service="web"]`, "2 passing", 10*time.Second)
	snAssertNotReloaded(t, b, mark)

	// Search filters by name or tag as the user types, case-insensitively.
	searches := []struct{ q, want string }{
		{"primary", "db"},
		{"WE", "web"},
		{"v1", "web"},
		{"c", "api,consul"}, // grpc, consul
		{"nothing", ""},     // last: the empty list is checked below
	}
	for _, tc := range searches {
		snSearch(t, b, tc.q)
		b.waitJS(t, "page state", fmt.Sprintf(`[...document.querySelectorAll('#services tbody tr')].map(r => r.dataset.service).join(',') === %q`, tc.want), true, 5*time.Second)
	}
	if got := b.text(t, "#services-body"); !strings.Contains(got, "No service matches") {
		t.Errorf("empty search shows %q", got)
	}
	snSearch(t, b, "")
	b.waitJS(t, "page state", `document.querySelectorAll('#services tbody tr').length === 4`, true, 5*time.Second) // consul, api, db, web
	if got := snRows(t, b); got != "api,consul,db,web" {
		t.Errorf("rows = %s, want api,consul,db,web", got)
	}
	snAssertNotReloaded(t, b, mark)

	// A new service appears live.
	snRegister(t, b, snTTL("cache", "cache-1", "passing", "", "redis"))
	b.waitText(t, `#services`, "cache", 10*time.Second)
	b.waitText(t, `tr[data-service="cache"]`, "1 passing", 10*time.Second)
	snAssertNotReloaded(t, b, mark)
	b.screenshot(t, "services")
}

func TestServiceDetail(t *testing.T) {
	b := newBrowser(t, nil, 1280, 800)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "db is fine")
	}))
	t.Cleanup(srv.Close)
	snRegister(t, b,
		&consul.AgentServiceRegistration{
			Name: "db", ID: "db-1", Port: 5432, Address: "10.1.2.3", Tags: []string{"primary", "v15"},
			Meta:    map[string]string{"zone": "eu-1", "version": "15.4"},
			Weights: &consul.AgentWeights{Passing: 3, Warning: 1},
			Check:   &consul.AgentServiceCheck{CheckID: "db-1-http", Name: "db http", HTTP: srv.URL, Interval: "1s"},
		},
		&consul.AgentServiceRegistration{
			Name: "db", ID: "db-2", Port: 5433, Tags: []string{"replica"},
			Check: &consul.AgentServiceCheck{CheckID: "db-2-ttl", Name: "replication", TTL: "5m"},
		},
	)
	if err := b.agent.Client.Agent().WarnTTL("db-2-ttl", "replication lag 12s"); err != nil {
		t.Fatal(err)
	}
	b.open(t, "#/services/db", `[data-instance="db-1"]`)

	one := `[data-instance="db-1"] `
	tests := map[string]struct {
		sel, want string
	}{
		"address":     {one + `[data-field="address"]`, "10.1.2.3:5432"},
		"weight":      {one + `[data-field="weight"]`, "3 passing · 1 warning"},
		"tags":        {one + `[data-field="tags"]`, "v15"},
		"meta":        {one + `[data-field="meta"]`, "zone=eu-1"},
		"node":        {one + `h2`, b.agent.Config.NodeName},
		"node check":  {one + `tr[data-check="serfHealth"]`, "Agent alive and reachable"},
		"http output": {one + `tr[data-check="db-1-http"]`, "db is fine"},
		"http status": {one + `tr[data-check="db-1-http"] .badge`, "passing"},
		"index":       {one + `tr[data-check="db-1-http"] .last-change`, "index "},
		"node addr":   {`[data-instance="db-2"] [data-field="address"]`, "127.0.0.1:5433"},
		"warning":     {`[data-instance="db-2"] tr[data-check="db-2-ttl"]`, "replication lag 12s"},
		"warn status": {`[data-instance="db-2"] tr[data-check="db-2-ttl"] .badge`, "warning"},
		"summary":     {`#service-summary`, "1 warning"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { b.waitText(t, tc.sel, tc.want, 15*time.Second) })
	}

	// Stop the instance's target: its check turns critical on the open
	// page, and the page notes when it saw the change.
	mark := snMark(t, b)
	srv.Close()
	b.waitText(t, one+`tr[data-check="db-1-http"] .badge`, "critical", 20*time.Second)
	b.waitText(t, one+`tr[data-check="db-1-http"] .last-change`, "changed", 5*time.Second)
	b.waitText(t, `#service-summary`, "1 critical", 5*time.Second)
	var status string
	b.eval(t, `document.querySelector('[data-instance="db-1"]').dataset.status`, &status)
	if status != "critical" {
		t.Errorf("instance db-1 status = %q, want critical", status)
	}
	snAssertNotReloaded(t, b, mark)
	b.screenshot(t, "service-detail")

	// The last instance going away leaves an empty, still live, page.
	for _, id := range []string{"db-1", "db-2"} {
		if err := b.agent.Client.Agent().ServiceDeregister(id); err != nil {
			t.Fatal(err)
		}
	}
	b.waitText(t, "#service-body", "No instances of db", 10*time.Second)
	snAssertNotReloaded(t, b, mark)
}

func TestServicesNarrow(t *testing.T) {
	b := newBrowser(t, nil, 390, 844)
	snNarrow(t, b)
	snRegister(t, b,
		snTTL("web", "web-1", "passing", "", "v1", "http", "a-rather-long-tag-for-a-narrow-screen"),
		&consul.AgentServiceRegistration{
			Name: "web", ID: "web-2-with-a-long-instance-identifier", Port: 8081,
			Meta: map[string]string{"commit": strings.Repeat("0123456789abcdef", 4)},
			Check: &consul.AgentServiceCheck{CheckID: "web-2-ttl", TTL: "5m",
				Status: "critical", Notes: strings.Repeat("a long line of check output ", 10)},
		},
	)
	b.open(t, "#/services", `#services tr[data-service="web"]`)
	b.waitText(t, `tr[data-service="web"]`, "1 critical", 10*time.Second)
	snNoOverflow(t, b, "services")
	b.screenshot(t, "services-narrow")

	b.run(t, "open web", chromedp.Click(`tr[data-service="web"] a`, chromedp.ByQuery))
	b.waitText(t, `[data-instance="web-2-with-a-long-instance-identifier"]`, "commit=", 10*time.Second)
	snNoOverflow(t, b, "service detail")
	b.screenshot(t, "services-narrow-detail")

	// The nav is usable: its links are on screen and lead to their pages.
	b.run(t, "nav to nodes", chromedp.Click(`#nav a[data-nav="nodes"]`, chromedp.ByQuery))
	b.waitText(t, "#nodes", b.agent.Config.NodeName, 10*time.Second)
	snNoOverflow(t, b, "nodes")
	b.run(t, "nav to services", chromedp.Click(`#nav a[data-nav="services"]`, chromedp.ByQuery))
	b.waitText(t, "#services", "web", 10*time.Second)
	snNoOverflow(t, b, "services again")
}

func TestServiceUnknown(t *testing.T) {
	b := newBrowser(t, nil, 1280, 800)
	b.open(t, "#/services/nope", "#service-body")
	b.waitText(t, "#service-body", "No instances of nope", 10*time.Second)
	mark := snMark(t, b)
	snRegister(t, b, snTTL("nope", "nope-1", "passing", ""))
	b.waitText(t, `[data-instance="nope-1"]`, "passing", 10*time.Second)
	snAssertNotReloaded(t, b, mark)
}
