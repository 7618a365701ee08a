package main

import (
	"strings"
	"testing"

	"github.com/recallledger/recall/domain"
)

// TestPolicyWithAuditRetentionShorterThanWhatMayBeRecalledIsRefused: over
// HTTP, PUT /policy with an audit retention shorter than the admin window
// or the message retention is 400 invalid_policy, the message names both
// fields, and nothing is recorded.
func TestPolicyWithAuditRetentionShorterThanWhatMayBeRecalledIsRefused(t *testing.T) {
	s := startServer(t)
	tok := s.token("a/a", adm)
	cases := []struct {
		name, body string
		names      []string
	}{
		{"shorter than the admin window", `{"audit_retention_s":86400,"admin_window_s":604800,"message_retention_s":604800}`,
			[]string{"audit_retention_s 86400", "admin_window_s 604800"}},
		{"shorter than the message retention", `{"audit_retention_s":172800}`,
			[]string{"audit_retention_s 172800", "message_retention_s 604800"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.do("PUT", "/v1/a/a/policy", tok, c.body)
			m := r.json(t)
			msg, _ := m["message"].(string)
			if r.status != 400 || m["error"] != "invalid_policy" {
				t.Fatalf("PUT %s: %d %s, want 400 invalid_policy", c.body, r.status, r.body)
			}
			for _, want := range c.names {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not name %q", msg, want)
				}
			}
		})
	}
	if r := s.do("PUT", "/v1/a/a/policy", tok, `{"audit_retention_s":86400,"admin_window_s":86400,"message_retention_s":86400}`); r.status != 200 {
		t.Fatalf("an audit retention equal to both is allowed: %d %s", r.status, r.body)
	}
	if policies := s.countEvents(domain.TypeTenantPolicySet); policies != 1 {
		t.Fatalf("%d policy events, want 1: a refused policy records nothing", policies)
	}
}
