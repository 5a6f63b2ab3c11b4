package checks

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	type testcase struct {
		spec  Spec
		field string // "" if the spec is valid
		msg   string // part of the error message
	}
	run := func(t *testing.T, tc testcase) {
		err := tc.spec.Validate()
		if tc.field == "" {
			if err != nil {
				t.Fatalf("Validate: %v, want nil", err)
			}
			return
		}
		var verr *ValidationError
		if !errors.As(err, &verr) {
			t.Fatalf("Validate: %v, want a *ValidationError", err)
		}
		if verr.Field != tc.field {
			t.Errorf("Field = %q, want %q (%v)", verr.Field, tc.field, err)
		}
		if !strings.HasPrefix(err.Error(), "checks: ") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("error %q, want prefix %q and %q in it", err, "checks: ", tc.msg)
		}
	}

	sec := time.Second
	cases := map[string]testcase{
		"http":                           {spec: Spec{ID: "c", HTTP: "http://127.0.0.1:8080/health", Interval: sec}},
		"https post":                     {spec: Spec{ID: "c", HTTP: "https://web.local/h", Method: "POST", Interval: sec}},
		"tcp":                            {spec: Spec{ID: "c", TCP: "localhost:22", Interval: sec}},
		"udp ipv6":                       {spec: Spec{ID: "c", UDP: "[::1]:53", Interval: sec}},
		"grpc":                           {spec: Spec{ID: "c", GRPC: "127.0.0.1:9000", Interval: sec}},
		"grpc service":                   {spec: Spec{ID: "c", GRPC: "127.0.0.1:9000/my.Service", Interval: sec}},
		"ttl":                            {spec: Spec{ID: "c", TTL: 30 * sec}},
		"script":                         {spec: Spec{ID: "c", Args: []string{"/bin/true"}, Interval: sec}},
		"short interval is not an error": {spec: Spec{ID: "c", TCP: "h:1", Interval: time.Millisecond}},
		"thresholds":                     {spec: Spec{ID: "c", TCP: "h:1", Interval: sec, SuccessBeforePassing: 2, FailuresBeforeWarning: 1, FailuresBeforeCritical: 3}},
		"irrelevant fields are ignored":  {spec: Spec{ID: "c", TCP: "h:1", Interval: sec, Method: "POST", TLSSkipVerify: true}},

		"no id":             {spec: Spec{TCP: "h:1", Interval: sec}, field: "ID", msg: "is required"},
		"no kind":           {spec: Spec{ID: "c", Interval: sec}, field: "Type", msg: "no kind of check"},
		"two kinds":         {spec: Spec{ID: "c", HTTP: "http://h/", TCP: "h:1", Interval: sec}, field: "Type", msg: "http,tcp"},
		"ttl and args":      {spec: Spec{ID: "c", TTL: sec, Args: []string{"x"}}, field: "Type", msg: "more than one"},
		"no interval":       {spec: Spec{ID: "c", HTTP: "http://h/"}, field: "Interval", msg: "must be > 0 for http checks"},
		"negative interval": {spec: Spec{ID: "c", Args: []string{"x"}, Interval: -sec}, field: "Interval", msg: "script"},
		"ttl with interval": {spec: Spec{ID: "c", TTL: sec, Interval: sec}, field: "Interval", msg: "TTL check"},
		"negative ttl":      {spec: Spec{ID: "c", TTL: -sec}, field: "TTL", msg: "must be > 0"},
		"negative timeout":  {spec: Spec{ID: "c", TCP: "h:1", Interval: sec, Timeout: -sec}, field: "Timeout"},
		"negative output":   {spec: Spec{ID: "c", TCP: "h:1", Interval: sec, OutputMaxSize: -1}, field: "OutputMaxSize"},
		"negative success":  {spec: Spec{ID: "c", TCP: "h:1", Interval: sec, SuccessBeforePassing: -1}, field: "SuccessBeforePassing"},
		"warning above critical": {
			spec:  Spec{ID: "c", TCP: "h:1", Interval: sec, FailuresBeforeWarning: 3, FailuresBeforeCritical: 2},
			field: "FailuresBeforeWarning", msg: "must not exceed FailuresBeforeCritical (2)",
		},
		"http relative url": {spec: Spec{ID: "c", HTTP: "/health", Interval: sec}, field: "HTTP", msg: "absolute"},
		"http bad scheme":   {spec: Spec{ID: "c", HTTP: "ftp://h/x", Interval: sec}, field: "HTTP"},
		"http bad url":      {spec: Spec{ID: "c", HTTP: "http://h:port:x/", Interval: sec}, field: "HTTP"},
		"http bad method":   {spec: Spec{ID: "c", HTTP: "http://h/", Method: "GET IT", Interval: sec}, field: "Method", msg: "invalid method"},
		"tcp no port":       {spec: Spec{ID: "c", TCP: "localhost", Interval: sec}, field: "TCP", msg: "missing port"},
		"tcp empty port":    {spec: Spec{ID: "c", TCP: "localhost:", Interval: sec}, field: "TCP", msg: "missing port"},
		"udp no port":       {spec: Spec{ID: "c", UDP: "10.0.0.1", Interval: sec}, field: "UDP"},
		"grpc url":          {spec: Spec{ID: "c", GRPC: "http://h:9000", Interval: sec}, field: "GRPC", msg: "host:port/service"},
		"grpc no port":      {spec: Spec{ID: "c", GRPC: "h/svc", Interval: sec}, field: "GRPC"},
		"script no program": {spec: Spec{ID: "c", Args: []string{"", "x"}, Interval: sec}, field: "Args"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func TestType(t *testing.T) {
	cases := map[string]struct {
		spec Spec
		want string
	}{
		"http":   {Spec{HTTP: "http://h/"}, "http"},
		"tcp":    {Spec{TCP: "h:1"}, "tcp"},
		"udp":    {Spec{UDP: "h:1"}, "udp"},
		"grpc":   {Spec{GRPC: "h:1"}, "grpc"},
		"ttl":    {Spec{TTL: time.Second}, "ttl"},
		"script": {Spec{Args: []string{"x"}}, "script"},
		"none":   {Spec{}, ""},
		"two":    {Spec{TCP: "h:1", UDP: "h:1"}, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := tc.spec.Type(); got != tc.want {
				t.Errorf("Type() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	header := map[string][]string{"X-A": {"1"}}
	args := []string{"check.sh", "-v"}
	web := withDefaults(Spec{ID: "web", HTTP: "http://h/", Header: header, Interval: time.Second, FailuresBeforeCritical: 3})
	if web.Method != http.MethodGet || web.Timeout != DefaultTimeout || web.OutputMaxSize != DefaultOutputMaxSize {
		t.Errorf("http defaults: Method %q, Timeout %s, OutputMaxSize %d", web.Method, web.Timeout, web.OutputMaxSize)
	}
	if web.FailuresBeforeWarning != 3 {
		t.Errorf("FailuresBeforeWarning = %d, want FailuresBeforeCritical (3)", web.FailuresBeforeWarning)
	}
	script := withDefaults(Spec{ID: "s", Args: args, Interval: time.Second, Timeout: 0})
	if script.Timeout != DefaultScriptTimeout {
		t.Errorf("script Timeout = %s, want %s", script.Timeout, DefaultScriptTimeout)
	}
	kept := withDefaults(Spec{ID: "k", TCP: "h:1", Interval: time.Second, Timeout: time.Minute, OutputMaxSize: 10, FailuresBeforeWarning: 1, FailuresBeforeCritical: 2})
	if kept.Timeout != time.Minute || kept.OutputMaxSize != 10 || kept.FailuresBeforeWarning != 1 {
		t.Errorf("explicit values overwritten: %+v", kept)
	}

	// The copy owns its Header and Args.
	header["X-A"][0] = "changed"
	args[0] = "changed"
	if web.Header["X-A"][0] != "1" || script.Args[0] != "check.sh" {
		t.Errorf("withDefaults shares Header or Args with the caller: %v %v", web.Header, script.Args)
	}
}
