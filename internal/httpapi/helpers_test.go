package httpapi_test

import (
	"encoding/json"
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
