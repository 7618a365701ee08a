package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
)

// The clock run is given is the one recall windows, expiry and audit
// retention go by: a test advances it instead of sleeping. The clock
// starts 30 days ahead of the real one, so any part still on the system
// clock would neither expire nor purge anything, and the test would fail.
func TestTheInjectedClockDrivesWindowsExpiryAndRetention(t *testing.T) {
	clock := clocktest.New(time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second))
	dir := t.TempDir()
	s := startServerWith(t, dir, clock)
	if r := s.do("PUT", "/v1/a/a/policy", s.token("a/a", adm),
		`{"sender_window_s":60,"admin_window_s":60,"message_retention_s":120,"audit_retention_s":86400}`); r.status != 200 {
		t.Fatalf("set policy: %d %s", r.status, r.body)
	}
	kept := s.send("alice", "bob", "chat", "txt", "expires", "c1")
	onTime := s.send("alice", "bob", "chat", "txt", "recalled at the last millisecond", "c2")
	late := s.send("alice", "bob", "chat", "txt", "one millisecond late", "c3")
	recall := func(id string) map[string]any {
		return s.do("POST", "/v1/a/a/messages/"+id+"/recall", s.token("a/a", svc), `{"actor":"alice"}`).json(t)
	}

	// the window: elapsed equal to it is allowed, a millisecond more is not
	clock.Advance(60 * time.Second)
	if m := recall(onTime); m["recalled"] != true || m["elapsed_ms"] != float64(60000) {
		t.Fatalf("recall at exactly the window: %v", m)
	}
	clock.Advance(time.Millisecond)
	if m := recall(late); m["reason"] != "exceed_time_limit" || m["elapsed_ms"] != float64(60001) || m["window_ms"] != float64(60000) {
		t.Fatalf("recall a millisecond past the window: %v", m)
	}

	// expiry: strictly after sent_at + message_retention_s by the same clock
	clock.Advance(60 * time.Second)
	expired := func(id string) string {
		for _, e := range s.events() {
			if p, ok := e.Data.(domain.MessageExpired); ok && string(p.MsgID) == id {
				return ""
			}
		}
		return fmt.Sprintf("%s did not expire after the clock passed its retention", id)
	}
	eventually(t, func() string { return expired(kept) })

	// audit retention, applied at start: two days on, a restart purges
	// everything older than the tenant's one day of audit history
	clock.Advance(48 * time.Hour)
	tokens := s.tokens
	s.shutdown()
	s = startServerWith(t, dir, clock)
	s.tokens = tokens
	eventually(t, func() string {
		r := s.do("GET", "/v1/a/a/audit?msg_id="+kept, s.token("a/a", auditor), "")
		if r.status != http.StatusOK || strings.Contains(string(r.body), kept) {
			return fmt.Sprintf("audit entries of %s older than the audit retention are still there: %d %s", kept, r.status, r.body)
		}
		return ""
	})
}
