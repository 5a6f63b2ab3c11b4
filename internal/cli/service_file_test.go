package cli

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	consulapi "github.com/hashicorp/consul/api"
)

// TestDecodeServiceFile covers the key conversion; the register tests cover
// reading files and what the agent makes of the result.
func TestDecodeServiceFile(t *testing.T) {
	type testcase struct {
		file    string
		want    []*consulapi.AgentServiceRegistration
		wantErr string // the error must contain it
	}
	run := func(t *testing.T, tc testcase) {
		got, err := decodeServiceFile([]byte(tc.file))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("got  %s\nwant %s", dump(got), dump(tc.want))
		}
	}
	cases := map[string]testcase{
		"snake_case, CamelCase and lower case spell one field": {
			file: `{"services": [
				{"name": "a", "enable_tag_override": true},
				{"Name": "b", "EnableTagOverride": true},
				{"name": "c", "enabletagoverride": true}
			]}`,
			want: []*consulapi.AgentServiceRegistration{
				{Name: "a", EnableTagOverride: true},
				{Name: "b", EnableTagOverride: true},
				{Name: "c", EnableTagOverride: true},
			},
		},
		"map keys are kept as written, their values converted": {
			file: `{"service": {
				"name": "web",
				"meta": {"build_id": "42", "Owner": "x"},
				"tagged_addresses": {"lan_ipv4": {"address": "10.0.0.1", "port": 80}},
				"check": {"http": "http://x/", "header": {"x_request_id": ["1"]}, "interval": "10s"}
			}}`,
			want: []*consulapi.AgentServiceRegistration{{
				Name:            "web",
				Meta:            map[string]string{"build_id": "42", "Owner": "x"},
				TaggedAddresses: map[string]consulapi.ServiceAddress{"lan_ipv4": {Address: "10.0.0.1", Port: 80}},
				Check: &consulapi.AgentServiceCheck{
					HTTP: "http://x/", Header: map[string][]string{"x_request_id": {"1"}}, Interval: "10s",
				},
			}},
		},
		"config-file check keys": {
			file: `{"service": {"name": "job", "checks": [
				{"id": "job-script", "args": ["/bin/check", "-v"], "interval": "5s", "token": "ignored"},
				{"check_id": "job-ttl", "ttl": "1m", "deregister_critical_service_after": "10m"},
				{"CheckID": "job-tcp", "tcp": "localhost:1", "tls_skip_verify": true, "ScriptArgs": ["x"]}
			]}}`,
			want: []*consulapi.AgentServiceRegistration{{
				Name: "job",
				Checks: consulapi.AgentServiceChecks{
					{CheckID: "job-script", Args: []string{"/bin/check", "-v"}, Interval: "5s"},
					{CheckID: "job-ttl", TTL: "1m", DeregisterCriticalServiceAfter: "10m"},
					{CheckID: "job-tcp", TCP: "localhost:1", TLSSkipVerify: true, Args: []string{"x"}},
				},
			}},
		},
		"nested registrations and free-form proxy config": {
			file: `{"service": {"name": "web", "connect": {"sidecar_service": {
				"port": 21000,
				"proxy": {"local_service_port": 8080, "config": {"envoy_prometheus_bind_addr": "0.0.0.0:9102"}}
			}}}}`,
			want: []*consulapi.AgentServiceRegistration{{
				Name: "web",
				Connect: &consulapi.AgentServiceConnect{SidecarService: &consulapi.AgentServiceRegistration{
					Port: 21000,
					Proxy: &consulapi.AgentServiceConnectProxyConfig{
						LocalServicePort: 8080,
						Config:           map[string]any{"envoy_prometheus_bind_addr": "0.0.0.0:9102"},
					},
				}},
			}},
		},
		"service then services": {
			file: `{"services": [{"name": "b"}], "service": {"name": "a"}}`,
			want: []*consulapi.AgentServiceRegistration{{Name: "a"}, {Name: "b"}},
		},
		"unknown key, with its path": {
			file:    `{"service": {"name": "x", "checks": [{"ttl": "1s"}, {"tll": "1s"}]}}`,
			wantErr: `service.checks[1]: unknown key "tll"`,
		},
		"one field spelt twice": {
			file:    `{"service": {"name": "x", "enable_tag_override": true, "EnableTagOverride": false}}`,
			wantErr: "both set EnableTagOverride",
		},
		"unknown top-level key": {
			file:    `{"service": {"name": "x"}, "datacenter": "dc1"}`,
			wantErr: `unknown key "datacenter"`,
		},
		"no definitions": {
			file:    `{}`,
			wantErr: "no service definitions",
		},
		"definition not an object": {
			file:    `{"services": ["web"]}`,
			wantErr: "services[0]: want an object",
		},
		"trailing data": {
			file:    `{"service": {"name": "x"}} {}`,
			wantErr: "more data after the top-level object",
		},
		"wrong value type": {
			file:    `{"service": {"name": "x", "tags": "a,b"}}`,
			wantErr: "cannot unmarshal string",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

// dump formats registrations for a failure message.
func dump(svcs []*consulapi.AgentServiceRegistration) string {
	b, err := json.Marshal(svcs)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
