package cli

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	consulapi "github.com/hashicorp/consul/api"
)

// Service definition files, as `muster services register` and `deregister`
// read them: Consul's format, {"service": {...}} or {"services": [...]}
// (either key may hold one object or a list), with keys spelled as in agent
// config files (snake_case: "enable_tag_override") or as in the HTTP API
// (CamelCase: "EnableTagOverride"). Consul's command reads a file with the
// agent's config loader; muster's CLI reaches the agent only through
// package api and must not import internal/local, so this file holds its
// own small equivalent of the agent's conversion (local.DecodeConfigServices),
// driven by the fields of the API types the client sends, so that the two
// cannot drift apart. Only JSON is read: HCL files are refused with a
// message saying so.

// readServiceFiles reads and validates the definitions in every file, in
// order. The error names the file, and the definition and key at fault.
func readServiceFiles(paths []string) ([]*consulapi.AgentServiceRegistration, error) {
	var out []*consulapi.AgentServiceRegistration
	for _, p := range paths {
		if strings.EqualFold(filepath.Ext(p), ".hcl") {
			return nil, fmt.Errorf("%s: HCL service definitions are not supported; use JSON", p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading service definition: %w", err)
		}
		svcs, err := decodeServiceFile(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, svcs...)
	}
	return out, nil
}

// decodeServiceFile decodes one file's definitions. Every definition must
// have a name, as in Consul, which validates files before registering any.
func decodeServiceFile(data []byte) ([]*consulapi.AgentServiceRegistration, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // re-encoded as written, without a float64 round trip
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, errors.New("want a JSON object with a \"service\" or \"services\" key")
		}
		return nil, fmt.Errorf("not valid JSON (HCL is not supported): %w", err)
	}
	if dec.More() {
		return nil, errors.New("not valid JSON: more data after the top-level object")
	}
	var items []any
	var paths []string
	for k := range top {
		if k != "service" && k != "services" {
			return nil, fmt.Errorf("unknown key %q: a service definition file has \"service\" or \"services\"", k)
		}
	}
	for _, k := range []string{"service", "services"} {
		v, ok := top[k]
		if !ok {
			continue
		}
		list, ok := v.([]any)
		if !ok {
			items, paths = append(items, v), append(paths, k)
			continue
		}
		for i, item := range list {
			items, paths = append(items, item), append(paths, fmt.Sprintf("%s[%d]", k, i))
		}
	}
	if len(items) == 0 {
		return nil, errors.New("no service definitions: want a \"service\" or \"services\" key")
	}
	out := make([]*consulapi.AgentServiceRegistration, len(items))
	for i, item := range items {
		svc, err := decodeService(item, paths[i])
		if err != nil {
			return nil, err
		}
		out[i] = svc
	}
	return out, nil
}

// decodeService converts one definition's keys and decodes it.
func decodeService(item any, path string) (*consulapi.AgentServiceRegistration, error) {
	if _, ok := item.(map[string]any); !ok {
		return nil, fmt.Errorf("%s: want an object", path)
	}
	conv, err := apiKeys(item, reflect.TypeFor[consulapi.AgentServiceRegistration](), path)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(conv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // apiKeys has refused them already; belt and braces
	var svc consulapi.AgentServiceRegistration
	if err := dec.Decode(&svc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if svc.Name == "" {
		return nil, fmt.Errorf("%s: missing name", path)
	}
	return &svc, nil
}

// keyAliases are the config-file keys that do not spell a field of the
// type they belong to, by type: a check's "id" is the API's CheckID.
var keyAliases = map[reflect.Type]map[string]string{
	reflect.TypeFor[consulapi.AgentServiceCheck](): {"id": "CheckID"},
}

// ignoredKeys are config-file keys that Consul accepts and the API types
// lack, dropped rather than refused, by type: the ACL token a service or
// check is registered with (muster has no ACLs).
var ignoredKeys = map[reflect.Type]map[string]bool{
	reflect.TypeFor[consulapi.AgentServiceRegistration](): {"token": true},
	reflect.TypeFor[consulapi.AgentServiceCheck]():        {"token": true},
}

// apiKeys returns v, a decoded JSON value bound for a Go value of type t,
// with every object key that names a struct field rewritten to that field's
// JSON name: "enable_tag_override", "EnableTagOverride" and "enableTagOverride"
// all become "EnableTagOverride", and "args" becomes "ScriptArgs" (the JSON
// name of the check field Args). The keys of Go maps (meta, header,
// tagged_addresses, a proxy's config) are the user's and are kept as
// written; only their values are converted. A key that names no field is an
// error naming its path, as Consul's config loader refuses unknown keys.
// Values of the wrong JSON type, and of types that decode themselves, are
// left for encoding/json.
func apiKeys(v any, t reflect.Type, path string) (any, error) {
	if t == nil {
		return v, nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if p := reflect.PointerTo(t); p.Implements(jsonUnmarshaler) || p.Implements(textUnmarshaler) {
		return v, nil
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return v, nil
		}
		fields := jsonFields(t)
		out := make(map[string]any, len(obj))
		seen := make(map[string]string, len(obj)) // JSON name -> key written
		for k, val := range obj {
			norm := normalizeKey(k)
			name, ok := keyAliases[t][norm]
			if !ok {
				name, ok = fields[norm]
			}
			if !ok {
				if ignoredKeys[t][norm] {
					continue
				}
				return nil, fmt.Errorf("%s: unknown key %q", path, k)
			}
			if prev, dup := seen[name]; dup {
				return nil, fmt.Errorf("%s: keys %q and %q both set %s", path, prev, k, name)
			}
			seen[name] = k
			conv, err := apiKeys(val, fieldType(t, name), path+"."+k)
			if err != nil {
				return nil, err
			}
			out[name] = conv
		}
		return out, nil
	case reflect.Slice, reflect.Array:
		list, ok := v.([]any)
		if !ok {
			return v, nil
		}
		out := make([]any, len(list))
		for i, item := range list {
			conv, err := apiKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = conv
		}
		return out, nil
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return v, nil
		}
		out := make(map[string]any, len(obj))
		for k, val := range obj {
			conv, err := apiKeys(val, t.Elem(), path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = conv
		}
		return out, nil
	}
	return v, nil // scalars and interface{} (free-form) values
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// normalizeKey folds the spellings of one field name together.
func normalizeKey(k string) string {
	return strings.ToLower(strings.ReplaceAll(k, "_", ""))
}

// jsonFields maps the normalized Go name and JSON name of each field t
// encodes to the field's JSON name.
func jsonFields(t reflect.Type) map[string]string {
	out := map[string]string{}
	eachJSONField(t, func(name string, f reflect.StructField) {
		for _, k := range []string{normalizeKey(f.Name), normalizeKey(name)} {
			if _, shadowed := out[k]; !shadowed {
				out[k] = name
			}
		}
	})
	return out
}

// fieldType is the type of t's field whose JSON name is name, or nil.
func fieldType(t reflect.Type, name string) reflect.Type {
	var typ reflect.Type
	eachJSONField(t, func(n string, f reflect.StructField) {
		if n == name && typ == nil {
			typ = f.Type
		}
	})
	return typ
}

// eachJSONField calls fn with the JSON name of each field encoding/json
// encodes for t: t's own fields, then those of the structs it embeds, which
// encoding/json promotes (callers keep the first of two same-named fields,
// as the outer one shadows the embedded one).
func eachJSONField(t reflect.Type, fn func(name string, f reflect.StructField)) {
	var embedded []reflect.Type
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case f.Anonymous && name == "" && ft.Kind() == reflect.Struct:
			embedded = append(embedded, ft)
		case f.IsExported():
			if name == "" {
				name = f.Name
			}
			fn(name, f)
		}
	}
	for _, et := range embedded {
		eachJSONField(et, fn)
	}
}
