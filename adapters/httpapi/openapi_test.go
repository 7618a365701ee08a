package httpapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"testing"
)

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

func TestOpenAPICoversEveryRoute(t *testing.T) {
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
	s := New(nil, nil, NewMetrics(), slog.New(slog.DiscardHandler), Config{}, nil, nil)
	registered := map[string]bool{}
	for _, r := range s.Routes() {
		registered[r] = true
		method, path, _ := strings.Cut(r, " ")
		op, ok := doc.Paths[path][strings.ToLower(method)]
		if !ok {
			t.Errorf("route %s is not in openapi.json", r)
			continue
		}
		// x-roles says which tokens the operation admits, as the route does
		var o struct {
			Roles []string `json:"x-roles"`
		}
		if err := json.Unmarshal(op, &o); err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		if got, want := fmt.Sprint(o.Roles), fmt.Sprint(s.AllowedRoles(r)); got != want && !(len(o.Roles) == 0 && s.AllowedRoles(r) == nil) {
			t.Errorf("%s: openapi.json's x-roles %s, the route admits %s", r, got, want)
		}
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
			var o struct {
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(op, &o); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			has2xx := false
			for code := range o.Responses {
				has2xx = has2xx || strings.HasPrefix(code, "2")
			}
			if !has2xx {
				t.Errorf("%s %s documents no 2xx response", method, path)
			}
		}
	}
	sort.Strings(documented)
	for _, d := range documented {
		if !registered[d] {
			t.Errorf("openapi.json documents %s, which the server does not register", d)
		}
	}
}

func TestOpenAPIReferencesResolve(t *testing.T) {
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	n := 0
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				n++
				name, ok := strings.CutPrefix(ref, "#/components/schemas/")
				if _, found := doc.Components.Schemas[name]; !ok || !found {
					t.Errorf("$ref %s does not resolve", ref)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	var raw any
	if err := json.Unmarshal(openAPI, &raw); err != nil {
		t.Fatal(err)
	}
	walk(raw)
	if n == 0 {
		t.Fatal("no $ref found: the walk is broken")
	}
}
