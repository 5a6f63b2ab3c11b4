package ui_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	consul "github.com/hashicorp/consul/api"
)

// Helpers of the Key/Value and Sessions pages' tests (kv* so as not to
// collide with other pages' helpers in this package).

// kvJS quotes s as a JavaScript string literal.
func kvJS(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// kvType replaces the text of the input or textarea sel as a user's typing
// does: the page sees an input event.
func kvType(t *testing.T, b *browser, sel, text string) {
	t.Helper()
	var ok bool
	b.eval(t, fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (!e) return false;
		e.value = %s; e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`, kvJS(sel), kvJS(text)), &ok)
	if !ok {
		t.Fatalf("no %s to type into", sel)
	}
}

// kvValue is the value property of the input or textarea sel.
func kvValue(t *testing.T, b *browser, sel string) string {
	t.Helper()
	var s string
	b.eval(t, fmt.Sprintf(`document.querySelector(%s)?.value ?? ''`, kvJS(sel)), &s)
	return s
}

// kvClick clicks sel.
func kvClick(t *testing.T, b *browser, sel string) {
	t.Helper()
	b.run(t, "click "+sel, chromedp.Click(sel, chromedp.ByQuery))
}

// kvAcceptConfirms makes window.confirm answer true (chromedp does not
// click native dialogs) and counts the questions in window.kvConfirms.
func kvAcceptConfirms(t *testing.T, b *browser) {
	t.Helper()
	var ignored any
	b.eval(t, `window.kvConfirms = 0; window.confirm = () => { window.kvConfirms++; return true; }; true`, &ignored)
}

// kvNoOverflow fails if the body is wider than the window.
func kvNoOverflow(t *testing.T, b *browser, where string) {
	t.Helper()
	var dims []int
	b.eval(t, `[document.documentElement.scrollWidth, window.innerWidth]`, &dims)
	if len(dims) != 2 || dims[0] > dims[1] {
		t.Errorf("%s: page %v wider than the window (scrollWidth, innerWidth)", where, dims)
	}
	if len(dims) == 2 && dims[1] > 400 {
		t.Errorf("%s: window is %d px wide, not a phone's", where, dims[1])
	}
}

func kvPut(t *testing.T, b *browser, key, value string, flags uint64) {
	t.Helper()
	if _, err := b.agent.Client.KV().Put(&consul.KVPair{Key: key, Value: []byte(value), Flags: flags}, nil); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func kvGet(t *testing.T, b *browser, key string) *consul.KVPair {
	t.Helper()
	p, _, err := b.agent.Client.KV().Get(key, nil)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return p
}

// Browsing folders, creating and deleting keys and folders.
func TestKVBrowse(t *testing.T) {
	b := newBrowser(t, nil, 1280, 800)
	kvPut(t, b, "app/config", "v1", 0)
	kvPut(t, b, "app/db/url", "postgres://db", 0)
	kvPut(t, b, "app/feature flags", "on", 0)
	kvPut(t, b, "top", "x", 0)

	b.open(t, "#/kv/", `[data-kv-list=""]`)
	b.waitText(t, "#kv-list", "app/", 10*time.Second)
	b.waitText(t, "#kv-list", "top", 10*time.Second)

	// One level: the folder's own keys and its sub-folders, not deeper keys.
	kvClick(t, b, `[data-folder="app/"] a`)
	b.waitJS(t, "app/ listed", `!!(document.querySelector('[data-key="app/config"]'))`, true, 10*time.Second)
	if got := b.text(t, "#kv-list"); !strings.Contains(got, "db/") || strings.Contains(got, "url") || !strings.Contains(got, "feature flags") {
		t.Errorf("app/ lists %q, want config, db/ and feature flags only", got)
	}

	// Live: a key added through the API appears without a reload.
	kvPut(t, b, "app/fresh-key", "new", 0)
	b.waitText(t, "#kv-list", "fresh-key", 10*time.Second)
	b.screenshot(t, "kv")

	// Create a key through the UI, read it back through the API.
	kvType(t, b, "#kv-new-key", "created")
	kvType(t, b, "#kv-new-value", "héllo wörld")
	kvClick(t, b, "#kv-create")
	b.waitJS(t, "editor of the new key", `!!(location.hash === '#/kv/app/created' && document.querySelector('#kv-value')?.value === 'héllo wörld')`, true, 10*time.Second)
	if p := kvGet(t, b, "app/created"); p == nil || string(p.Value) != "héllo wörld" {
		t.Fatalf("created key through the API: %+v", p)
	}

	// Creating an existing key is refused (cas=0), not overwritten.
	b.open(t, "#/kv/app/", "#kv-new-key")
	kvType(t, b, "#kv-new-key", "config")
	kvType(t, b, "#kv-new-value", "clobbered")
	kvClick(t, b, "#kv-create")
	b.waitText(t, "#kv-message", "already exists", 10*time.Second)
	if p := kvGet(t, b, "app/config"); string(p.Value) != "v1" {
		t.Fatalf("create over an existing key wrote %q", p.Value)
	}

	// A folder: a key ending in "/".
	kvType(t, b, "#kv-new-key", "empty/")
	kvClick(t, b, "#kv-create")
	b.waitJS(t, "the new folder", `!!(location.hash === '#/kv/app/empty/')`, true, 10*time.Second)
	if p := kvGet(t, b, "app/empty/"); p == nil {
		t.Fatal("folder key app/empty/ not created")
	}

	// Delete a key (after a confirm), back to its folder.
	b.open(t, "#/kv/app/created", `#kv-delete:not([disabled])`)
	kvAcceptConfirms(t, b)
	kvClick(t, b, "#kv-delete")
	b.waitJS(t, "back in the folder", `!!(location.hash === '#/kv/app/')`, true, 10*time.Second)
	if p := kvGet(t, b, "app/created"); p != nil {
		t.Fatalf("deleted key still there: %+v", p)
	}
	b.waitText(t, "#kv-list", "config", 10*time.Second)

	// Delete the whole folder (recurse).
	kvAcceptConfirms(t, b)
	kvClick(t, b, "#kv-delete-folder")
	b.waitJS(t, "back at the root", `!!(location.hash === '#/kv/')`, true, 10*time.Second)
	if keys, _, err := b.agent.Client.KV().Keys("app/", "", nil); err != nil || len(keys) != 0 {
		t.Fatalf("keys left under app/: %v %v", keys, err)
	}
	if p := kvGet(t, b, "top"); p == nil {
		t.Fatal("deleting app/ deleted a key outside it")
	}
}

// Editing a key: saves are compare-and-set; the editor follows the server
// until the user types, and a conflicting save is refused and shown.
func TestKVEdit(t *testing.T) {
	b := newBrowser(t, nil, 1280, 800)
	kvPut(t, b, "svc/limit", "10", 42)

	b.open(t, "#/kv/svc/limit", "#kv-value")
	b.waitJS(t, "value loaded", `!!(document.querySelector('#kv-value').value === '10')`, true, 10*time.Second)
	b.waitText(t, `[data-field="Flags"]`, "42", 5*time.Second)

	// Not editing: a change on the server shows up in the editor.
	kvPut(t, b, "svc/limit", "11", 42)
	b.waitJS(t, "live value", `!!(document.querySelector('#kv-value').value === '11')`, true, 10*time.Second)

	// Edit and save; the API has it, with the flags kept.
	kvType(t, b, "#kv-value", "12")
	kvClick(t, b, "#kv-save")
	b.waitText(t, "#kv-message", "Saved", 10*time.Second)
	if p := kvGet(t, b, "svc/limit"); string(p.Value) != "12" || p.Flags != 42 {
		t.Fatalf("after save: value %q flags %d, want 12 and 42", p.Value, p.Flags)
	}
	b.screenshot(t, "kv-key")

	// Conflict: the user edits, someone else writes, the user saves.
	kvType(t, b, "#kv-value", "mine")
	kvPut(t, b, "svc/limit", "theirs", 42)
	b.waitText(t, "#kv-changed", "Changed on the server", 10*time.Second)
	if got := kvValue(t, b, "#kv-value"); got != "mine" {
		t.Fatalf("the live update clobbered the edit: editor has %q", got)
	}
	kvClick(t, b, "#kv-save")
	b.waitText(t, "#kv-conflict", "Conflict", 10*time.Second)
	b.waitText(t, "#kv-theirs", "theirs", 5*time.Second)
	if p := kvGet(t, b, "svc/limit"); string(p.Value) != "theirs" {
		t.Fatalf("a conflicting save overwrote the other writer: %q", p.Value)
	}
	if got := kvValue(t, b, "#kv-value"); got != "mine" {
		t.Fatalf("editor after the conflict has %q, want the user's text", got)
	}
	b.screenshot(t, "kv-conflict")

	// Overwriting is a deliberate second step.
	kvClick(t, b, "#kv-overwrite")
	b.waitText(t, "#kv-message", "Saved", 10*time.Second)
	if p := kvGet(t, b, "svc/limit"); string(p.Value) != "mine" || p.Flags != 42 {
		t.Fatalf("after overwrite: value %q flags %d", p.Value, p.Flags)
	}

	// A delete with a stale index is refused too.
	kvType(t, b, "#kv-value", "edit again")
	kvPut(t, b, "svc/limit", "someone", 0)
	b.waitText(t, "#kv-changed", "Changed on the server", 10*time.Second)
	kvAcceptConfirms(t, b)
	kvClick(t, b, "#kv-delete")
	b.waitText(t, "#kv-message", "Not deleted", 10*time.Second)
	if p := kvGet(t, b, "svc/limit"); p == nil || string(p.Value) != "someone" {
		t.Fatalf("stale delete: %+v", p)
	}
	// Reload takes the server's version.
	kvClick(t, b, "#kv-reload")
	b.waitJS(t, "reloaded", `!!(document.querySelector('#kv-value').value === 'someone')`, true, 5*time.Second)

	// Keys are escaped in routes and API paths: "?", "#", "%" and spaces
	// are part of the key. Saving one writes that key, not another.
	odd := "odd dir/what?#100% sure"
	kvPut(t, b, odd, "v", 0)
	b.open(t, "#/kv/odd%20dir/", `[data-kv-list="odd dir/"]`)
	b.waitText(t, "#kv-list", "what?#100% sure", 10*time.Second)
	kvClick(t, b, fmt.Sprintf(`[data-key=%s] a`, kvJS(odd)))
	b.waitText(t, "[data-kv-key]", odd, 10*time.Second)
	b.waitJS(t, "odd key loaded", `!!(document.querySelector('#kv-value').value === 'v')`, true, 10*time.Second)
	kvType(t, b, "#kv-value", "w")
	kvClick(t, b, "#kv-save")
	b.waitText(t, "#kv-message", "Saved", 10*time.Second)
	if p := kvGet(t, b, odd); p == nil || string(p.Value) != "w" {
		t.Fatalf("odd key after save: %+v", p)
	}
}

// The Key/Value page fits a phone's width.
func TestKVNarrow(t *testing.T) {
	b := newBrowser(t, nil, 390, 844)
	kvNarrow(t, b)
	kvPut(t, b, "narrow/a-rather-long-key-name-that-goes-on-and-on-and-on-and-on", "v", 0)
	kvPut(t, b, "narrow/deeper/key", "v", 0)
	b.open(t, "#/kv/narrow/", `[data-kv-list="narrow/"]`)
	b.waitText(t, "#kv-list", "deeper/", 10*time.Second)
	kvNoOverflow(t, b, "folder")
	b.screenshot(t, "kv-narrow")
	b.open(t, "#/kv/narrow/a-rather-long-key-name-that-goes-on-and-on-and-on-and-on", "#kv-value")
	b.waitJS(t, "metadata", `!!(document.querySelector('[data-field="ModifyIndex"]'))`, true, 10*time.Second)
	kvNoOverflow(t, b, "key")
	if !kvVisible(t, b, "#kv-save") {
		t.Error("Save is not reachable at 390px")
	}
}

// kvNarrow makes the page lay out as on a phone 390 px wide. Headless
// Chromium does not open a window narrower than 500 px, so newBrowser's
// width alone does not get there; device emulation does.
func kvNarrow(t *testing.T, b *browser) {
	t.Helper()
	b.run(t, "emulate a 390px viewport", chromedp.EmulateViewport(390, 844))
}

// kvVisible reports whether sel is inside the window's width.
func kvVisible(t *testing.T, b *browser, sel string) bool {
	t.Helper()
	var ok bool
	b.eval(t, fmt.Sprintf(`(() => { const r = document.querySelector(%s)?.getBoundingClientRect();
		return !!r && r.width > 0 && r.left >= 0 && r.right <= window.innerWidth; })()`, kvJS(sel)), &ok)
	return ok
}
