package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/recallledger/recall/domain"
)

// feedSends returns the MessageSent payloads of GET …/events by msg_id.
func (r *rig) feedSends() (map[domain.MsgID]domain.MessageSent, []byte) {
	r.t.Helper()
	status, body := r.get(domain.AccessAuditor, "/events?from_position=0")
	if status != http.StatusOK {
		r.t.Fatalf("events: %d %s", status, body)
	}
	out := map[domain.MsgID]domain.MessageSent{}
	for _, e := range lines(r.t, body) {
		if s, ok := e.Data.(domain.MessageSent); ok {
			out[s.MsgID] = s
		}
	}
	return out, body
}

// GET …/events carries each send's content as the tenant's feed_content
// says: the stricter of the setting when it was sent and the one now.
func TestEventsFeedCarriesContentAsTheTenantsFeedContentSays(t *testing.T) {
	r := newRig(t)
	feed := func(mode string) {
		r.setPolicy(domain.PolicySpec{FeedContent: &mode})
		status, body := r.get(domain.AccessAdmin, "/policy")
		var p domain.Policy
		if err := json.Unmarshal(body, &p); status != http.StatusOK || err != nil || string(p.FeedContent) != mode {
			t.Fatalf("GET /policy after setting %s: %d %s", mode, status, body)
		}
	}
	underPlain := r.send("alice", "bob", "chat", "SECRET-plain")
	feed("sha256")
	underSHA := r.send("alice", "bob", "chat", "SECRET-sha")
	feed("none")
	underNone := r.send("alice", "bob", "chat", "SECRET-none")
	withheld, body := r.feedSends()
	if strings.Contains(string(body), "SECRET") {
		t.Fatalf("content in the feed under none: %s", body)
	}
	for id, s := range withheld {
		if s.Content != "" || s.ContentSHA256 != "" || s.ContentRedacted != domain.FeedNone {
			t.Fatalf("under none, %s: %+v", id, s)
		}
	}

	feed("plaintext")
	cases := []struct {
		name      string
		id        domain.MsgID
		content   string
		redaction domain.FeedContent
	}{
		{"sent under plaintext, read under plaintext: as sent", underPlain, "SECRET-plain", ""},
		{"sent under sha256: stays withheld", underSHA, "", domain.FeedSHA256},
		{"sent under none: stays withheld, hash too", underNone, "", domain.FeedNone},
	}
	sends, _ := r.feedSends()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := sends[c.id]
			if s.Content != c.content || s.ContentRedacted != c.redaction {
				t.Fatalf("%+v", s)
			}
			if (s.ContentSHA256 == "") != (c.redaction == domain.FeedNone) {
				t.Fatalf("content_sha256 %q under %q", s.ContentSHA256, c.redaction)
			}
		})
	}
	if len(sends) != 3 {
		t.Fatalf("%d sends in the feed, want 3", len(sends))
	}
}
