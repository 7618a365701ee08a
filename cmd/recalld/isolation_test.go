package main

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/recallledger/recall/domain"
)

// TestEveryEndpointIsolatesTenantsAndRoles tries every tenant route with
// no token, with each of another tenant's tokens, and with each role of
// the right tenant that the route does not admit. Nothing may be served or
// written.
func TestEveryEndpointIsolatesTenantsAndRoles(t *testing.T) {
	s := startServer(t, "--log-level", "debug")
	msg := s.send("alice", "bob", "chat", "txt", "tenant a's secret", "c1")
	before := len(s.events())
	routes := documentedRoutes(t, s)
	bodies := map[string]string{
		"POST /v1/{org}/{app}/messages":                 `{"from":"x","to":"y","chat_type":"chat","content":"z"}`,
		"POST /v1/{org}/{app}/messages/{msg_id}/read":   `{"reader":"bob"}`,
		"POST /v1/{org}/{app}/messages/{msg_id}/recall": `{"actor":"alice"}`,
		"POST /{org}/{app}/messages/recall":             `{"msgs":[{"msg_id":"` + msg + `","to":"bob","chat_type":"chat"}]}`,
		"PUT /v1/{org}/{app}/policy":                    `{"recall_enabled":false}`,
	}
	tried := 0
	for _, route := range slices.Sorted(maps.Keys(routes)) {
		allowed := routes[route]
		if allowed == nil {
			continue // public
		}
		method, pattern, _ := strings.Cut(route, " ")
		path := strings.NewReplacer("{org}", "a", "{app}", "a", "{msg_id}", msg, "{conversation_id}", "chat:alice:bob", "{name}", "alice").Replace(pattern)
		if strings.Contains(path, "/conversations/") {
			path += "?viewer=bob"
		}
		body := bodies[route]
		expect := func(who, token string, status int) {
			t.Helper()
			tried++
			r := s.do(method, path, token, body)
			if r.status != status {
				t.Errorf("%s as %s: %d, want %d: %s", route, who, r.status, status, r.body)
			}
			if strings.Contains(string(r.body), "secret") {
				t.Errorf("%s as %s leaked tenant a's data: %s", route, who, r.body)
			}
		}
		expect("nobody", "", 401)
		expect("a forged token", "rls_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 401)
		for _, role := range domain.AccessRoles {
			expect("tenant b's "+string(role), s.token("b/b", role), 404)
			if !slices.Contains(allowed, string(role)) {
				expect("tenant a's "+string(role), s.token("a/a", role), 403)
			}
		}
	}
	if after := len(s.events()); after != before {
		t.Fatalf("refused requests wrote %d events", after-before)
	}
	if tried < 60 {
		t.Fatalf("only %d requests tried: the route list is not what it should be", tried)
	}
	logs := s.logged()
	for tenant, toks := range s.tokens {
		for role, tok := range toks {
			if strings.Contains(logs, tok) || strings.Contains(logs, tok[21:]) {
				t.Errorf("%s's %s token appears in the server log", tenant, role)
			}
		}
	}
	if !strings.Contains(logs, "level=") {
		t.Fatal("nothing was logged: the log check proves nothing")
	}
	t.Logf("%d refused requests across %d routes, none served, none written", tried, len(routes))
}

// documentedRoutes reads the server's OpenAPI document: every operation
// ("METHOD /pattern") with the token roles its x-roles admits, nil for a
// public one. httpapi's tests hold the document to the routes it serves.
func documentedRoutes(t *testing.T, s *server) map[string][]string {
	t.Helper()
	r := s.do("GET", "/openapi.json", "", "")
	var doc struct {
		Paths map[string]map[string]struct {
			Roles []string `json:"x-roles"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); r.status != 200 || err != nil {
		t.Fatalf("openapi.json: %d %v", r.status, err)
	}
	out := map[string][]string{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			out[strings.ToUpper(method)+" "+path] = op.Roles
		}
	}
	return out
}
