package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// User is one user as the API shows it. The seed's User also carries a
// Password; an example that prints it to any caller teaches the wrong thing,
// so it is left out. (The seed also gives every user Id 1; ids here differ.)
type User struct {
	ID        int       `json:"Id"`
	Account   string    `json:"Account"`
	Name      string    `json:"Name"`
	Email     string    `json:"Email"`
	Role      string    `json:"Role"`
	LoginTime time.Time `json:"LoginTime"`
	// Instance is the ip:port of the instance that answered, so a caller
	// going through a load balancer sees where it landed (the seed writes
	// it into Role).
	Instance string `json:"Instance"`
}

// users is the in-memory data, as in the seed.
var users = []User{
	{ID: 1, Account: "Administrator", Name: "Eleven", Email: "57265177@qq.com", Role: "Admin"},
	{ID: 2, Account: "Apple", Name: "Apple", Email: "57265177@qq.com", Role: "Admin"},
	{ID: 3, Account: "Cole", Name: "Cole", Email: "57265177@qq.com", Role: "Admin"},
}

// handler serves the users API of one instance.
type handler struct {
	instance string // ip:port put in every answer
	started  time.Time
	log      *slog.Logger
}

// newHandler returns the service's routes. Paths are matched in lower
// case, as ASP.NET matches them case-insensitively.
func newHandler(instance string, log *slog.Logger) http.Handler {
	h := &handler{instance: instance, started: time.Now(), log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/users/all", h.all)
	mux.HandleFunc("GET /api/users/get", h.get)
	mux.HandleFunc("GET /api/health/index", h.health)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = strings.ToLower(r.URL.Path)
		mux.ServeHTTP(w, r)
	})
}

func (h *handler) user(u User) User {
	u.LoginTime = h.started
	u.Instance = h.instance
	return u
}

func (h *handler) all(w http.ResponseWriter, r *http.Request) {
	h.log.Info("users: all", "instance", h.instance)
	out := make([]User, 0, len(users))
	for _, u := range users {
		out = append(out, h.user(u))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.URL.Query().Get("id"))
	if err != nil {
		h.writeError(w, http.StatusBadRequest, fmt.Sprintf("id=%q: want an integer", r.URL.Query().Get("id")))
		return
	}
	for _, u := range users {
		if u.ID == id {
			writeJSON(w, http.StatusOK, h.user(u))
			return
		}
	}
	h.writeError(w, http.StatusNotFound, fmt.Sprintf("user %d not found", id))
}

func (h *handler) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok"))
}

// apiError is the body of every error answer.
type apiError struct {
	Error    string `json:"error"`
	Instance string `json:"Instance"`
}

func (h *handler) writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Error: msg, Instance: h.instance})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
