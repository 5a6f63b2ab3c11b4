package ui_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Tests of api.js's live queries, run in the page against a dev agent.

// apiResult starts the async JavaScript function body js in the page and
// polls until it has returned; its JSON-able result goes into res.
func apiResult(t *testing.T, b *browser, js string, res any, timeout time.Duration) {
	t.Helper()
	var ignored any
	b.run(t, "start", chromedp.Evaluate(`window.__apiDone = false; (async () => { `+js+` })()
		.then(r => { window.__apiResult = r; }, e => { window.__apiResult = 'error: ' + e; })
		.finally(() => { window.__apiDone = true; }); true`, &ignored))
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var done bool
		ctx, cancel := context.WithTimeout(b.ctx, time.Second)
		err := chromedp.Run(ctx, chromedp.Evaluate(`window.__apiDone === true`, &done))
		cancel()
		if err == nil && done {
			b.run(t, "result", chromedp.Evaluate(`window.__apiResult`, res))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the script did not finish within %v", timeout)
}

// An endpoint that sets X-Consul-Index but does not block (the Connect CA
// roots) is not asked in a tight loop.
func TestLiveNonBlockingIndex(t *testing.T) {
	b := newBrowser(t, nil, 1280, 800)
	b.open(t, "#/services", "#services-body")
	var answers int
	apiResult(t, b, `
		const api = await import('/ui/api.js');
		let n = 0;
		const stop = api.live('/v1/agent/connect/ca/roots', () => { n++; });
		await new Promise(r => setTimeout(r, 2500));
		stop();
		return n;`, &answers, 20*time.Second)
	// One answer at once, then at most one a second; a tight loop makes
	// hundreds.
	if answers < 1 || answers > 10 {
		t.Errorf("%d answers in 2.5 s, want a few", answers)
	}
}

// One query's success does not clear another's error from the banner; the
// failing query's stop does.
func TestLiveErrorsPerQuery(t *testing.T) {
	b := newBrowser(t, nil, 1280, 800)
	b.open(t, "#/services", "#services-body")
	var res struct {
		Shown   []bool
		Text    string
		Cleared bool
	}
	apiResult(t, b, `
		const api = await import('/ui/api.js');
		const banner = document.getElementById('error');
		const sleep = ms => new Promise(r => setTimeout(r, ms));
		// Another datacenter: the agent answers 500.
		const stopBad = api.live('/v1/kv/x', () => {}, { query: { dc: 'nowhere' } });
		const stopGood = api.live('/v1/agent/members', () => {}, { pollEvery: 50 });
		for (let i = 0; i < 50 && banner.hidden; i++) await sleep(100);
		const shown = [];
		for (let i = 0; i < 15; i++) { shown.push(!banner.hidden); await sleep(100); }
		const text = banner.textContent;
		stopBad();
		const cleared = banner.hidden;
		stopGood();
		return { Shown: shown, Text: text, Cleared: cleared };`, &res, 30*time.Second)
	for i, s := range res.Shown {
		if !s {
			t.Fatalf("banner hidden at sample %d of %v: another query's success cleared the error", i, res.Shown)
		}
	}
	if res.Text == "" {
		t.Error("banner shown without text")
	}
	if !res.Cleared {
		t.Error("the failing query stopped, but its error stays in the banner")
	}
}

// When the agent goes away, the open page says so in the banner instead of
// going quiet.
func TestAgentUnreachableShown(t *testing.T) {
	b := newBrowser(t, nil, 1280, 800)
	b.open(t, "#/services", "#services-body")
	b.agent.Shutdown()
	b.waitText(t, "#error", "unreachable", 30*time.Second)
}
