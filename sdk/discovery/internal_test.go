package discovery

import (
	"net/http"
	"strings"
	"testing"
)

func TestNextIndex(t *testing.T) {
	for name, tc := range map[string]struct{ prev, got, want uint64 }{
		"first answer":      {0, 42, 42},
		"forward":           {42, 57, 57},
		"unchanged":         {42, 42, 42},
		"backwards resets":  {42, 7, 0},
		"zero raised to 1":  {0, 0, 1},
		"backwards to zero": {42, 0, 0},
	} {
		t.Run(name, func(t *testing.T) {
			if got := nextIndex(tc.prev, tc.got); got != tc.want {
				t.Fatalf("nextIndex(%d, %d) = %d, want %d", tc.prev, tc.got, got, tc.want)
			}
		})
	}
}

func TestIsReplayable(t *testing.T) {
	withBody := func(method string) *http.Request {
		r, _ := http.NewRequest(method, "http://svc/", strings.NewReader("x"))
		return r
	}
	for name, tc := range map[string]struct {
		req  *http.Request
		want bool
	}{
		"GET":                       {withBody(http.MethodGet), true},
		"HEAD":                      {withBody(http.MethodHead), true},
		"PUT with GetBody":          {withBody(http.MethodPut), true},
		"DELETE":                    {withBody(http.MethodDelete), true},
		"POST":                      {withBody(http.MethodPost), false},
		"PATCH":                     {withBody(http.MethodPatch), false},
		"POST with Idempotency-Key": {func() *http.Request { r := withBody(http.MethodPost); r.Header.Set("Idempotency-Key", "k"); return r }(), true},
		"PUT without GetBody":       {func() *http.Request { r := withBody(http.MethodPut); r.GetBody = nil; return r }(), false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := isReplayable(tc.req); got != tc.want {
				t.Fatalf("isReplayable = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIsServiceName(t *testing.T) {
	for host, want := range map[string]bool{
		"UserService":     true,
		"user-service":    true,
		"users_v2":        true,
		"":                false,
		"localhost":       false,
		"LocalHost":       false,
		"api.example.com": false,
		"127.0.0.1":       false,
		"users:8080":      false,
		"[::1]":           false,
		"[::1]:80":        false,
	} {
		if got := IsServiceName(host); got != want {
			t.Errorf("IsServiceName(%q) = %v, want %v", host, got, want)
		}
	}
}
