package httpapi

import (
	"testing"
)

func TestWrongMethodOnAKnownPathIs405WithAllow(t *testing.T) {
	a := newTestAPI(t, nil)
	cases := []struct {
		method, path, allow string
	}{
		{"POST", "/v1/a/a/policy", "GET, HEAD, PATCH, PUT"},
		{"DELETE", "/v1/a/a/messages", "POST"},
		{"GET", "/v1/a/a/messages/m1/recall", "POST"},
		{"PUT", "/a/a/messages/recall", "POST"},
		{"POST", "/healthz", "GET, HEAD"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r := a.do(c.method, c.path, adm, "")
			if r.status != 405 || r.header.Get("Allow") != c.allow {
				t.Fatalf("%d Allow %q, want 405 with Allow %q: %s", r.status, r.header.Get("Allow"), c.allow, r.body)
			}
			if e := r.json(t); e["error"] != "method_not_allowed" || e["message"] == "" {
				t.Fatalf("body %s, want our JSON error method_not_allowed", r.body)
			}
		})
	}
	if r := a.do("GET", "/v1/a/a/nothing-here", adm, ""); r.status != 404 || r.json(t)["error"] != "not_found" {
		t.Fatalf("an unknown path: %d %s, want 404", r.status, r.body)
	}
}
