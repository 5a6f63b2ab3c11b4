package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/internal/testagent"
)

// put writes key=value through the API, failing the test on error.
func put(t *testing.T, c *api.Client, key, value string) {
	t.Helper()
	if _, err := c.KV().Put(&consulapi.KVPair{Key: key, Value: []byte(value)}, nil); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// get reads key through the API; nil if it does not exist.
func get(t *testing.T, c *api.Client, key string) *consulapi.KVPair {
	t.Helper()
	p, _, err := c.KV().Get(key, nil)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return p
}

// newSession creates a session through the API.
func newSession(t *testing.T, c *api.Client) string {
	t.Helper()
	id, _, err := c.Session().Create(&consulapi.SessionEntry{LockDelay: 1}, nil)
	if err != nil {
		t.Fatalf("create session: %v", err)
	}
	return id
}

func TestKV(t *testing.T) {
	a := testagent.Start(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "value.txt")
	if err := os.WriteFile(file, []byte("from a file"), 0o600); err != nil {
		t.Fatal(err)
	}

	// testcase runs `muster kv SUB -http-addr=A ARGS...` after setup, with
	// stdin (if set) on os.Stdin, and checks the exit code, stdout, stderr
	// and, with check, the store. setup may return values for the %[1]s...
	// verbs in args and wantOut.
	type testcase struct {
		setup    func(t *testing.T, c *api.Client) []any
		stdin    string
		args     []string // subcommand first
		wantCode int
		wantOut  string
		wantErr  string // stderr must contain it
		check    func(t *testing.T, c *api.Client)
	}
	run := func(t *testing.T, tc testcase) {
		var subs []any
		if tc.setup != nil {
			subs = tc.setup(t, a.Client)
		}
		if tc.stdin != "" {
			withStdin(t, tc.stdin)
		}
		subst := func(s string) string {
			if strings.Contains(s, "%[") {
				return fmt.Sprintf(s, subs...)
			}
			return s
		}
		args := []string{"kv", tc.args[0], "-http-addr=" + a.Addr}
		for _, arg := range tc.args[1:] {
			args = append(args, subst(arg))
		}
		r := runCLI(context.Background(), args...)
		if r.code != tc.wantCode {
			t.Errorf("exit code = %d, want %d (stderr %q)", r.code, tc.wantCode, r.err)
		}
		if want := subst(tc.wantOut); r.out != want {
			t.Errorf("stdout = %q, want %q", r.out, want)
		}
		if tc.wantErr == "" && r.err != "" {
			t.Errorf("stderr = %q, want none", r.err)
		}
		if !strings.Contains(r.err, tc.wantErr) {
			t.Errorf("stderr = %q, want it to contain %q", r.err, tc.wantErr)
		}
		if tc.check != nil {
			tc.check(t, a.Client)
		}
	}
	value := func(key, want string) func(t *testing.T, c *api.Client) {
		return func(t *testing.T, c *api.Client) {
			t.Helper()
			p := get(t, c, key)
			if p == nil {
				t.Fatalf("%s does not exist, want %q", key, want)
			}
			if string(p.Value) != want {
				t.Errorf("%s = %q, want %q", key, p.Value, want)
			}
		}
	}
	absent := func(keys ...string) func(t *testing.T, c *api.Client) {
		return func(t *testing.T, c *api.Client) {
			t.Helper()
			for _, k := range keys {
				if p := get(t, c, k); p != nil {
					t.Errorf("%s = %q, want it deleted", k, p.Value)
				}
			}
		}
	}
	putKeys := func(kvs ...string) func(t *testing.T, c *api.Client) []any {
		return func(t *testing.T, c *api.Client) []any {
			for i := 0; i < len(kvs); i += 2 {
				put(t, c, kvs[i], kvs[i+1])
			}
			return nil
		}
	}
	modifyIndex := func(key string) func(t *testing.T, c *api.Client) []any {
		return func(t *testing.T, c *api.Client) []any {
			put(t, c, key, "old")
			return []any{fmt.Sprint(get(t, c, key).ModifyIndex)}
		}
	}

	cases := map[string]testcase{
		"put": {
			args:    []string{"put", "put/plain", "hello"},
			wantOut: "Success! Data written to: put/plain\n",
			check:   value("put/plain", "hello"),
		},
		"put without data writes an empty value": {
			args:    []string{"put", "put/empty"},
			wantOut: "Success! Data written to: put/empty\n",
			check:   value("put/empty", ""),
		},
		"put from a file": {
			args:    []string{"put", "put/file", "@" + file},
			wantOut: "Success! Data written to: put/file\n",
			check:   value("put/file", "from a file"),
		},
		"put from a missing file": {
			args:     []string{"put", "put/nofile", "@" + filepath.Join(dir, "nope")},
			wantCode: 1,
			wantErr:  "Error! Failed to read file:",
			check:    absent("put/nofile"),
		},
		"put from stdin": {
			stdin:   "from stdin\n",
			args:    []string{"put", "put/stdin", "-"},
			wantOut: "Success! Data written to: put/stdin\n",
			check:   value("put/stdin", "from stdin\n"),
		},
		"put a value starting with a dash": {
			args:    []string{"put", "put/dash", "-x"},
			wantOut: "Success! Data written to: put/dash\n",
			check:   value("put/dash", "-x"),
		},
		"put base64": {
			args:    []string{"put", "-base64", "put/b64", "aGk="},
			wantOut: "Success! Data written to: put/b64\n",
			check:   value("put/b64", "hi"),
		},
		"put bad base64": {
			args:     []string{"put", "-base64", "put/badb64", "!!"},
			wantCode: 1,
			wantErr:  "Error! Cannot base 64 decode data:",
			check:    absent("put/badb64"),
		},
		"put flags": {
			args:    []string{"put", "-flags=42", "put/flags", "x"},
			wantOut: "Success! Data written to: put/flags\n",
			check: func(t *testing.T, c *api.Client) {
				if p := get(t, c, "put/flags"); p == nil || p.Flags != 42 {
					t.Errorf("put/flags = %+v, want Flags 42", p)
				}
			},
		},
		"put missing key": {
			args:     []string{"put"},
			wantCode: 1,
			wantErr:  "Error! Missing KEY argument",
		},
		"put too many arguments": {
			args:     []string{"put", "a", "b", "c"},
			wantCode: 1,
			wantErr:  "Error! Too many arguments (expected 1 or 2, got 3)",
		},
		"put cas": {
			setup:   modifyIndex("put/cas"),
			args:    []string{"put", "-cas", "-modify-index=%[1]s", "put/cas", "new"},
			wantOut: "Success! Data written to: put/cas\n",
			check:   value("put/cas", "new"),
		},
		"put cas failed": {
			setup:    modifyIndex("put/casfail"),
			args:     []string{"put", "-cas", "-modify-index=1", "put/casfail", "new"},
			wantCode: 1,
			wantErr:  "Error! Did not write to put/casfail: CAS failed",
			check:    value("put/casfail", "old"),
		},
		"put cas without modify-index": {
			args:     []string{"put", "-cas", "put/casnoindex", "new"},
			wantCode: 1,
			wantErr:  "Must specify -modify-index with -cas!",
			check:    absent("put/casnoindex"),
		},
		"put acquire": {
			setup:   func(t *testing.T, c *api.Client) []any { return []any{newSession(t, c)} },
			args:    []string{"put", "-acquire", "-session=%[1]s", "put/lock", "held"},
			wantOut: "Success! Lock acquired on: put/lock\n",
			check: func(t *testing.T, c *api.Client) {
				if p := get(t, c, "put/lock"); p == nil || p.Session == "" || p.LockIndex != 1 {
					t.Errorf("put/lock = %+v, want it held", p)
				}
			},
		},
		"put acquire held by another session": {
			setup: func(t *testing.T, c *api.Client) []any {
				ok, _, err := c.KV().Acquire(&consulapi.KVPair{Key: "put/busy", Session: newSession(t, c)}, nil)
				if err != nil || !ok {
					t.Fatalf("acquire: %v, %v", ok, err)
				}
				return []any{newSession(t, c)}
			},
			args:     []string{"put", "-acquire", "-session=%[1]s", "put/busy", "mine"},
			wantCode: 1,
			wantErr:  "Error! Did not acquire lock",
		},
		"put release": {
			setup: func(t *testing.T, c *api.Client) []any {
				id := newSession(t, c)
				if ok, _, err := c.KV().Acquire(&consulapi.KVPair{Key: "put/unlock", Session: id}, nil); err != nil || !ok {
					t.Fatalf("acquire: %v, %v", ok, err)
				}
				return []any{id}
			},
			args:    []string{"put", "-release", "-session=%[1]s", "put/unlock"},
			wantOut: "Success! Lock released on: put/unlock\n",
			check: func(t *testing.T, c *api.Client) {
				if p := get(t, c, "put/unlock"); p == nil || p.Session != "" {
					t.Errorf("put/unlock = %+v, want it released", p)
				}
			},
		},
		"put acquire without session": {
			args:     []string{"put", "-acquire", "put/nosession"},
			wantCode: 1,
			wantErr:  "Error! Missing -session (required with -acquire and -release)",
		},
		"get": {
			setup:   putKeys("get/plain", "hello"),
			args:    []string{"get", "get/plain"},
			wantOut: "hello\n",
		},
		"get strips a leading slash": {
			setup:   putKeys("get/slash", "hello"),
			args:    []string{"get", "/get/slash"},
			wantOut: "hello\n",
		},
		"get missing key": {
			args:     []string{"get", "get/missing"},
			wantCode: 1,
			wantErr:  "Error! No key exists at: get/missing\n",
		},
		"get without key": {
			args:     []string{"get"},
			wantCode: 1,
			wantErr:  "Error! Missing KEY argument",
		},
		"get too many arguments": {
			args:     []string{"get", "a", "b"},
			wantCode: 1,
			wantErr:  "Too many arguments (expected 1, got 2)",
		},
		"get base64": {
			setup:   putKeys("get/b64", "hi"),
			args:    []string{"get", "-base64", "get/b64"},
			wantOut: "aGk=\n",
		},
		"get recurse": {
			setup:   putKeys("recurse/a", "1", "recurse/b/c", "2", "recursex", "3"),
			args:    []string{"get", "-recurse", "recurse"},
			wantOut: "recurse/a:1\nrecurse/b/c:2\nrecursex:3\n",
		},
		"get recurse base64": {
			setup:   putKeys("get/rb/a", "hi"),
			args:    []string{"get", "-recurse", "-base64", "get/rb/"},
			wantOut: "get/rb/a:aGk=\n",
		},
		"get recurse of nothing": {
			args: []string{"get", "-recurse", "get/nothing/"},
		},
		"get keys": {
			setup:   putKeys("get/k/a", "1", "get/k/b/c", "2", "get/k/b/d", "3"),
			args:    []string{"get", "-keys", "get/k/"},
			wantOut: "get/k/a\nget/k/b/\n",
		},
		"get keys without separator": {
			setup:   putKeys("get/ks/a", "1", "get/ks/b/c", "2"),
			args:    []string{"get", "-keys", "-separator=", "get/ks/"},
			wantOut: "get/ks/a\nget/ks/b/c\n",
		},
		"get stale": {
			setup:   putKeys("get/stale", "v"),
			args:    []string{"get", "-stale", "get/stale"},
			wantOut: "v\n",
		},
		"get in our datacenter": {
			setup:   putKeys("get/dc", "v"),
			args:    []string{"get", "-datacenter=" + a.Config.Datacenter, "get/dc"},
			wantOut: "v\n",
		},
		"get in another datacenter": {
			setup:    putKeys("get/otherdc", "v"),
			args:     []string{"get", "-datacenter=elsewhere", "get/otherdc"},
			wantCode: 1,
			wantErr:  "No path to datacenter",
		},
		"delete": {
			setup:   putKeys("del/one", "1", "del/one/child", "2"),
			args:    []string{"delete", "del/one"},
			wantOut: "Success! Deleted key: del/one\n",
			check: func(t *testing.T, c *api.Client) {
				absent("del/one")(t, c)
				value("del/one/child", "2")(t, c)
			},
		},
		"delete recurse": {
			setup:   putKeys("del/tree/a", "1", "del/tree/b/c", "2", "del/treeish", "3"),
			args:    []string{"delete", "-recurse", "del/tree/"},
			wantOut: "Success! Deleted keys with prefix: del/tree/\n",
			check: func(t *testing.T, c *api.Client) {
				absent("del/tree/a", "del/tree/b/c")(t, c)
				value("del/treeish", "3")(t, c)
			},
		},
		"delete cas": {
			setup:   modifyIndex("del/cas"),
			args:    []string{"delete", "-cas", "-modify-index=%[1]s", "del/cas"},
			wantOut: "Success! Deleted key: del/cas\n",
			check:   absent("del/cas"),
		},
		"delete cas failed": {
			setup:    modifyIndex("del/casfail"),
			args:     []string{"delete", "-cas", "-modify-index=1", "del/casfail"},
			wantCode: 1,
			wantErr:  "Error! Did not delete key del/casfail: CAS failed",
			check:    value("del/casfail", "old"),
		},
		"delete modify-index without cas": {
			args:     []string{"delete", "-modify-index=3", "del/x"},
			wantCode: 1,
			wantErr:  "Cannot specify -modify-index without -cas!",
		},
		"delete cas and recurse": {
			args:     []string{"delete", "-cas", "-modify-index=3", "-recurse", "del/x"},
			wantCode: 1,
			wantErr:  "Cannot specify both -cas and -recurse!",
		},
		"delete without key": {
			args:     []string{"delete"},
			wantCode: 1,
			wantErr:  "Error! Missing KEY argument",
		},
		"export": {
			setup: func(t *testing.T, c *api.Client) []any {
				put(t, c, "exp/a", "hi")
				if _, err := c.KV().Put(&consulapi.KVPair{Key: "exp/b/", Flags: 7}, nil); err != nil {
					t.Fatal(err)
				}
				return nil
			},
			args: []string{"export", "exp/"},
			wantOut: "[\n" +
				"\t{\n\t\t\"key\": \"exp/a\",\n\t\t\"flags\": 0,\n\t\t\"value\": \"aGk=\"\n\t},\n" +
				"\t{\n\t\t\"key\": \"exp/b/\",\n\t\t\"flags\": 7,\n\t\t\"value\": \"\"\n\t}\n" +
				"]\n",
		},
		"export of nothing": {
			args:    []string{"export", "exp/nothing/"},
			wantOut: "[]\n",
		},
		"import": {
			args:    []string{"import", `[{"key":"imp/a","flags":3,"value":"aGk="},{"key":"imp/b/","flags":0,"value":""}]`},
			wantOut: "Imported: imp/a\nImported: imp/b/\n",
			check: func(t *testing.T, c *api.Client) {
				value("imp/a", "hi")(t, c)
				value("imp/b/", "")(t, c)
				if p := get(t, c, "imp/a"); p.Flags != 3 {
					t.Errorf("imp/a flags = %d, want 3", p.Flags)
				}
			},
		},
		"import from stdin with a prefix": {
			stdin:   `[{"key":"a","flags":0,"value":"aGk="},{"key":"b/","flags":0,"value":""}]`,
			args:    []string{"import", "-prefix=imp/pre", "-"},
			wantOut: "Imported: imp/pre/a\nImported: imp/pre/b/\n",
			check: func(t *testing.T, c *api.Client) {
				value("imp/pre/a", "hi")(t, c)
				value("imp/pre/b/", "")(t, c)
			},
		},
		"import bad json": {
			args:     []string{"import", "{"},
			wantCode: 1,
			wantErr:  "Cannot unmarshal data:",
		},
		"import bad base64": {
			args:     []string{"import", `[{"key":"imp/bad","value":"!!"}]`},
			wantCode: 1,
			wantErr:  "Error base 64 decoding value for key imp/bad:",
			check:    absent("imp/bad"),
		},
		"import without data": {
			args:     []string{"import"},
			wantCode: 1,
			wantErr:  "Error! Missing DATA argument",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func TestKVGetDetailed(t *testing.T) {
	a := testagent.Start(t)
	id := newSession(t, a.Client)
	if _, err := a.Client.KV().Put(&consulapi.KVPair{Key: "d/a", Flags: 5, Value: []byte("one")}, nil); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := a.Client.KV().Acquire(&consulapi.KVPair{Key: "d/b", Session: id, Value: []byte("two")}, nil); err != nil || !ok {
		t.Fatalf("acquire: %v, %v", ok, err)
	}
	pa, pb := get(t, a.Client, "d/a"), get(t, a.Client, "d/b")
	// Consul's layout: the field names padded to 11 characters plus 6 spaces.
	detailed := func(p *consulapi.KVPair, session, value string) string {
		return fmt.Sprintf("CreateIndex      %d\nFlags            %d\nKey              %s\nLockIndex        %d\nModifyIndex      %d\nSession          %s\nValue            %s\n",
			p.CreateIndex, p.Flags, p.Key, p.LockIndex, p.ModifyIndex, session, value)
	}

	type testcase struct {
		args    []string
		wantOut string
	}
	run := func(t *testing.T, tc testcase) {
		r := runCLI(context.Background(), append([]string{"kv", "get", "-http-addr=" + a.Addr}, tc.args...)...)
		if r.code != 0 || r.err != "" {
			t.Fatalf("exit code %d, stderr %q", r.code, r.err)
		}
		if r.out != tc.wantOut {
			t.Errorf("stdout =\n%s\nwant\n%s", r.out, tc.wantOut)
		}
	}
	cases := map[string]testcase{
		"one key":        {args: []string{"-detailed", "d/a"}, wantOut: detailed(pa, "-", "one")},
		"base64":         {args: []string{"-detailed", "-base64", "d/a"}, wantOut: detailed(pa, "-", "b25l")},
		"locked key":     {args: []string{"-detailed", "d/b"}, wantOut: detailed(pb, id, "two")},
		"recurse blocks": {args: []string{"-detailed", "-recurse", "d/"}, wantOut: detailed(pa, "-", "one") + "\n" + detailed(pb, id, "two")},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func TestKVExportImportRoundTrip(t *testing.T) {
	a := testagent.Start(t)
	for k, v := range map[string]string{"app/a": "1", "app/b/c": "two", "app/bin": "\x00\xff"} {
		put(t, a.Client, k, v)
	}
	exp := runCLI(context.Background(), "kv", "export", "-http-addr="+a.Addr, "app/")
	if exp.code != 0 {
		t.Fatalf("export: exit %d: %s", exp.code, exp.err)
	}
	var entries []map[string]any
	if err := json.Unmarshal([]byte(exp.out), &entries); err != nil || len(entries) != 3 {
		t.Fatalf("export output %q: %v entries, %v", exp.out, len(entries), err)
	}
	file := filepath.Join(t.TempDir(), "export.json")
	if err := os.WriteFile(file, []byte(exp.out), 0o600); err != nil {
		t.Fatal(err)
	}
	imp := runCLI(context.Background(), "kv", "import", "-http-addr="+a.Addr, "-prefix=copy", "@"+file)
	if imp.code != 0 {
		t.Fatalf("import: exit %d: %s", imp.code, imp.err)
	}
	want := "Imported: copy/app/a\nImported: copy/app/b/c\nImported: copy/app/bin\n"
	if imp.out != want {
		t.Errorf("import output = %q, want %q", imp.out, want)
	}
	if p := get(t, a.Client, "copy/app/bin"); p == nil || string(p.Value) != "\x00\xff" {
		t.Errorf("copy/app/bin = %+v, want the binary value", p)
	}
}

func TestHTTPAddrFromEnvironment(t *testing.T) {
	a := testagent.Start(t)
	put(t, a.Client, "env", "found")
	type testcase struct {
		env      map[string]string
		wantCode int
		wantOut  string
		wantErr  string
	}
	run := func(t *testing.T, tc testcase) {
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		r := runCLI(context.Background(), "kv", "get", "env")
		if r.code != tc.wantCode || r.out != tc.wantOut || !strings.Contains(r.err, tc.wantErr) {
			t.Errorf("got exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr containing %q",
				r.code, r.out, r.err, tc.wantCode, tc.wantOut, tc.wantErr)
		}
	}
	cases := map[string]testcase{
		"MUSTER_HTTP_ADDR": {
			env:     map[string]string{api.EnvHTTPAddr: a.Addr, api.EnvConsulHTTPAddr: "127.0.0.1:1"},
			wantOut: "found\n",
		},
		"CONSUL_HTTP_ADDR": {
			env:     map[string]string{api.EnvHTTPAddr: "", api.EnvConsulHTTPAddr: "http://" + a.Addr},
			wantOut: "found\n",
		},
		"unreachable agent": {
			env:      map[string]string{api.EnvHTTPAddr: "127.0.0.1:1"},
			wantCode: 1,
			wantErr:  "Error querying muster agent:",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}
