package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Status codes SECURITY.md promises that no other test pins with their
// error code.

// A body sent as anything but JSON is refused (415) and writes nothing.
func TestANonJSONBodyIsRefusedWith415(t *testing.T) {
	s := startServer(t)
	before := len(s.events())
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		req, err := http.NewRequest("POST", s.base+"/v1/a/a/messages", strings.NewReader(`{"from":"alice","to":"bob","chat_type":"chat","content":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+s.token("a/a", svc))
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r := response{status: resp.StatusCode, body: body}
		if r.status != http.StatusUnsupportedMediaType || r.json(t)["error"] != "unsupported_media_type" {
			t.Errorf("Content-Type %s: %d %s, want 415 unsupported_media_type", ct, r.status, r.body)
		}
	}
	if after := len(s.events()); after != before {
		t.Fatalf("refused bodies wrote %d events", after-before)
	}
}

// A one-to-one conversation is shown, and streamed, only to its two
// participants: anyone else is 403 not_a_participant.
func TestAStrangerCannotReadAOneToOneConversation(t *testing.T) {
	s := startServer(t)
	s.send("alice", "bob", "chat", "txt", "between us", "c1")
	for _, path := range []string{
		"/v1/a/a/conversations/chat:alice:bob/messages?viewer=mallory",
		"/v1/a/a/conversations/chat:alice:bob/stream?viewer=mallory",
	} {
		r := s.do("GET", path, s.token("a/a", svc), "")
		if r.status != http.StatusForbidden || r.json(t)["error"] != "not_a_participant" || strings.Contains(string(r.body), "between us") {
			t.Errorf("%s: %d %s, want 403 not_a_participant", path, r.status, r.body)
		}
	}
}

// No token, or a wrong one, is 401 unauthorized with a Bearer challenge
// (RFC 6750), on every kind of tenant route.
func TestAMissingOrWrongTokenIsChallenged(t *testing.T) {
	s := startServer(t)
	for _, tc := range []struct{ method, path, token, challenge string }{
		{"GET", "/v1/a/a/policy", "", `Bearer realm="recall-ledger"`},
		{"GET", "/v1/a/a/policy", "not-a-token", `Bearer realm="recall-ledger", error="invalid_token"`},
		{"POST", "/a/a/messages/recall", "", `Bearer realm="recall-ledger"`},
	} {
		r := s.do(tc.method, tc.path, tc.token, "")
		if r.status != http.StatusUnauthorized || r.json(t)["error"] != "unauthorized" || r.header.Get("WWW-Authenticate") != tc.challenge {
			t.Errorf("%s %s with %q: %d %v %s", tc.method, tc.path, tc.token, r.status, r.header.Get("WWW-Authenticate"), r.body)
		}
	}
}
