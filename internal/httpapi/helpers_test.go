package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/musterhq/muster/internal/testagent"
)

func newReq(t *testing.T, a *testagent.Agent, method, path, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+a.Addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func mustDo(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func mustJSON(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
}

// send sends a request to the agent and returns the response and its body.
func send(t *testing.T, a *testagent.Agent, method, path string, body []byte) (*http.Response, string) {
	t.Helper()
	resp := mustDo(t, newReq(t, a, method, path, string(body)))
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp, b.String()
}

// do sends a request to the agent and returns the status and body.
func do(t *testing.T, a *testagent.Agent, method, path string, body []byte) (int, string) {
	t.Helper()
	resp, b := send(t, a, method, path, body)
	return resp.StatusCode, b
}
