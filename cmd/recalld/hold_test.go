package main

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
)

// keyStates is the state of each named key in the server's key store.
func (s *server) keyStates(t *testing.T, ids map[string]string) map[string]domain.KeyState {
	t.Helper()
	tn, _ := domain.ParseTenant("a/a")
	out := map[string]domain.KeyState{}
	for name, id := range ids {
		_, state, err := s.srv.keys.Store.Get(context.Background(), tn, id)
		if err != nil {
			t.Fatalf("key %s (%s): %v", name, id, err)
		}
		out[name] = state
	}
	return out
}

// The seam between content protection and legal holds, end to end on a
// real recalld: its keyring asks the ledger's holds before any key is
// destroyed. With a hold on alice, a recall under
// audit_keeps_recalled_content false and an erasure of alice destroy
// none of her content keys — the erasure is deferred, the hold named, and
// the auditor still reads both messages. The release resumes the erasure,
// which destroys every one of them: the content is then in no answer, the
// audit log marks it shredded, and nothing answers a 500. The auditor's
// view of the conversation as of before the recall (as_of) shows both
// messages' content while the hold keeps their keys, and after the
// erasure shows them shredded, saying why each went.
func TestAHoldKeepsAUsersKeysFromARecallAndAnErasureUntilItsRelease(t *testing.T) {
	clock := clocktest.New(time.Now().Truncate(time.Second))
	s := startServerWith(t, t.TempDir(), clock)
	if r := s.do("PUT", "/v1/a/a/policy", s.token("a/a", adm),
		`{"audit_keeps_recalled_content":false,"sender_window_s":600,"admin_window_s":600}`); r.status != http.StatusOK {
		t.Fatalf("set policy: %d %s", r.status, r.body)
	}
	recalledText, keptText := secretText(t, "recalled"), secretText(t, "kept")
	recalled := s.send("alice", "bob", "chat", "txt", recalledText, "h1")
	kept := s.send("alice", "bob", "chat", "txt", keptText, "h2")
	clock.Advance(time.Second)
	seen := clock.Now() // bob's view at this instant holds both messages
	clock.Advance(time.Second)
	r, k := s.sealedSend(t, recalled), s.sealedSend(t, kept)
	keys := map[string]string{
		"recalled live": r.ContentLive.KeyID, "recalled audit": r.ContentAudit.KeyID,
		"kept live": k.ContentLive.KeyID, "kept audit": k.ContentAudit.KeyID,
	}

	placed := s.do("POST", "/v1/a/a/holds", s.token("a/a", adm),
		`{"scope":"user","id":"alice","case":"CASE-18","reason":"litigation"}`)
	if placed.status != http.StatusCreated {
		t.Fatalf("place hold: %d %s", placed.status, placed.body)
	}
	holdID, _ := placed.json(t)["hold"].(map[string]any)["hold_id"].(string)
	if m := s.do("POST", "/v1/a/a/messages/"+recalled+"/recall", s.token("a/a", svc), `{"actor":"alice"}`).json(t); m["recalled"] != true {
		t.Fatalf("recall: %v", m)
	}
	erased := s.do("POST", "/v1/a/a/erasures", s.token("a/a", adm), `{"user":"alice","reason":"GDPR art. 17","request_id":"dsr-18"}`)
	if erased.status != http.StatusCreated {
		t.Fatalf("erasure: %d %s", erased.status, erased.body)
	}
	e := erased.json(t)
	erasureID, _ := e["erasure_id"].(string)
	if e["status"] != domain.ErasureDeferred || e["held_count"] != float64(2) || e["erased_count"] != float64(0) ||
		!strings.Contains(string(erased.body), holdID) {
		t.Fatalf("erasure under a hold: want deferred, both messages held by %s, got %s", holdID, erased.body)
	}

	// the hold kept every key; the auditor reads both messages
	for name, state := range s.keyStates(t, keys) {
		if state != domain.KeyLive {
			t.Errorf("under the hold the %s key is %v, want live", name, state)
		}
	}
	eventuallyWithin(t, 30*time.Second, func() string {
		audit := s.everywhere(t)["audit json"]
		if !strings.Contains(audit, recalledText) || !strings.Contains(audit, keptText) {
			return "the auditor does not read the held content"
		}
		return ""
	})

	if got := s.asOf(t, seen); got[recalled] != recalledText || got[kept] != keptText {
		t.Errorf("bob's view as of before the recall, under the hold: %v, want both messages' content", got)
	}

	released := s.do("DELETE", "/v1/a/a/holds/"+holdID+"?reason="+url.QueryEscape("case closed"), s.token("a/a", adm), "")
	if released.status != http.StatusOK || !strings.Contains(string(released.body), erasureID) {
		t.Fatalf("release: want the erasure %s resumed, got %d %s", erasureID, released.status, released.body)
	}
	if got := s.do("GET", "/v1/a/a/erasures/"+erasureID, s.token("a/a", adm), "").json(t); got["status"] != domain.ErasureDone || got["erased_count"] != float64(2) {
		t.Fatalf("erasure after the release: %v", got)
	}
	for name, state := range s.keyStates(t, keys) {
		if state != domain.KeyDestroyed {
			t.Errorf("after the release the %s key is %v, want destroyed", name, state)
		}
	}
	// every answer is a 200 (everywhere fails on any other) without the content
	eventuallyWithin(t, 30*time.Second, func() string {
		all := s.everywhere(t)
		for where, body := range all {
			for _, text := range []string{recalledText, keptText} {
				if strings.Contains(body, text) {
					return where + " still shows erased content"
				}
			}
		}
		if !strings.Contains(all["audit json"], `"content_redacted":"shredded"`) {
			return "the audit log does not mark the erased content shredded"
		}
		return ""
	})
	// the view as of before the recall: the messages, their content gone
	want := map[string]string{recalled: "shredded/recalled", kept: "shredded/erased"}
	if got := s.asOf(t, seen); !maps.Equal(got, want) {
		t.Errorf("bob's view as of before the recall, after the erasure: %v, want %v", got, want)
	}
}

// asOf is bob's view of chat:alice:bob at at, as the auditor asks it: each
// message's content, or content_redacted/content_gone when it has none.
func (s *server) asOf(t *testing.T, at time.Time) map[string]string {
	t.Helper()
	q := url.Values{"viewer": {"bob"}, "as_of": {at.UTC().Format(time.RFC3339Nano)}}
	r := s.do("GET", "/v1/a/a/conversations/chat:alice:bob/messages?"+q.Encode(), s.token("a/a", auditor), "")
	if r.status != http.StatusOK {
		t.Fatalf("as_of: %d %s", r.status, r.body)
	}
	var v struct {
		Messages []struct {
			MsgID           string  `json:"msg_id"`
			Content         *string `json:"content"`
			ContentRedacted string  `json:"content_redacted"`
			ContentGone     string  `json:"content_gone"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("as_of: %v: %s", err, r.body)
	}
	out := map[string]string{}
	for _, m := range v.Messages {
		if m.Content != nil {
			out[m.MsgID] = *m.Content
		} else {
			out[m.MsgID] = m.ContentRedacted + "/" + m.ContentGone
		}
	}
	return out
}
