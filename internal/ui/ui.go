// Package ui serves muster's web UI: static HTML, CSS and JavaScript
// embedded in the binary (no build step, no npm), which talk to the agent's
// own HTTP API from the browser, with blocking queries for live updates.
//
// Register adds the routes to the agent's HTTP mux: /ui/ serves the app
// (any path under /ui/ that is not a file gets index.html, so a reloaded
// page keeps its place), and / and /ui redirect to /ui/.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// Prefix is where the UI is served.
const Prefix = "/ui/"

// Handler serves the UI's files under Prefix.
func Handler() http.Handler {
	root, err := fs.Sub(static, "static")
	if err != nil {
		panic("ui: embedded files missing: " + err.Error()) // the build embeds them
	}
	files := http.StripPrefix(strings.TrimSuffix(Prefix, "/"), http.FileServerFS(root))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		if name == "" || name == "index.html" || path.Ext(name) == "" {
			// The shell, for the app's own routes too: a reloaded page
			// keeps its place.
			serveIndex(w, root)
			return
		}
		// Files change only with the binary. Embedded files carry no
		// modification time, so there is nothing to answer 304 with: they
		// are sent in full each time, and no-cache keeps a browser from
		// reusing an older binary's copy.
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

func serveIndex(w http.ResponseWriter, root fs.FS) {
	b, err := fs.ReadFile(root, "index.html")
	if err != nil {
		http.Error(w, "ui: index.html missing", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

// Register adds the UI's routes to mux.
func Register(mux *http.ServeMux) {
	mux.Handle("GET "+Prefix, Handler())
	redirect := http.RedirectHandler(Prefix, http.StatusMovedPermanently)
	mux.Handle("GET /ui", redirect)
	mux.Handle("GET /{$}", redirect)
}
