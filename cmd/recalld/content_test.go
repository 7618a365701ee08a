package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/keystore"
	"github.com/recallledger/recall/adapters/keystore/keystoretest"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
)

// secretText is content no file or answer holds by chance.
func secretText(t *testing.T, name string) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return name + "-" + hex.EncodeToString(b)
}

// everywhere is every answer of tenant a/a that may carry content: the
// conversation as both participants see it, the event feed, the audit
// log in each format.
func (s *server) everywhere(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, viewer := range []string{"alice", "bob"} {
		r := s.do("GET", "/v1/a/a/conversations/chat:alice:bob/messages?viewer="+viewer, s.token("a/a", svc), "")
		if r.status != http.StatusOK {
			t.Fatalf("conversation: %d %s\nrecalld logged:\n%s", r.status, r.body, s.logged())
		}
		out["conversation for "+viewer] = string(r.body)
	}
	var feed strings.Builder
	for _, e := range s.eventsAsSent() {
		feed.WriteString(e.JSON)
	}
	out["feed"] = feed.String()
	for _, format := range []string{"json", "jsonl", "csv"} {
		r := s.do("GET", "/v1/a/a/audit?format="+format, s.token("a/a", auditor), "")
		if r.status != http.StatusOK {
			t.Fatalf("audit %s: %d %s\nrecalld logged:\n%s", format, r.status, r.body, s.logged())
		}
		out["audit "+format] = string(r.body)
	}
	return out
}

// sealedSend is a send as the log holds it.
func (s *server) sealedSend(t *testing.T, msg string) domain.MessageSent {
	t.Helper()
	for _, e := range s.events() {
		if p, ok := e.Data.(domain.MessageSent); ok && string(p.MsgID) == msg {
			if p.ContentLive == nil || p.ContentAudit == nil {
				t.Fatalf("send %s is not sealed: %+v", msg, p)
			}
			return p
		}
	}
	t.Fatalf("no send %s in the feed", msg)
	return domain.MessageSent{}
}

// wrappedKey is a live key's wrapped bytes in the server's key store.
func (s *server) wrappedKey(t *testing.T, id string) []byte {
	t.Helper()
	tn, _ := domain.ParseTenant("a/a")
	w, state, err := s.srv.keys.Store.Get(context.Background(), tn, id)
	if err != nil || state != domain.KeyLive {
		t.Fatalf("key %s: %v %v", id, state, err)
	}
	return w.Blob
}

// The promise, end to end on a real recalld: after a recall with
// audit_keeps_recalled_content false, and after an expiry followed by
// audit retention, the content is in no answer (conversation, feed,
// audit in every format), across a restart and a rebuild; its keys'
// bytes are in no file of the data directory after a full compaction of
// the key store; and no content, shredded or kept, is ever in a file in
// plaintext. Content whose key store is gone is answered 200, marked
// key_unavailable, never a 500.
func TestShreddedContentIsGoneFromEveryFileAndAnswer(t *testing.T) {
	clock := clocktest.New(time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second))
	dir := t.TempDir()
	s := startServerWith(t, dir, clock)
	if r := s.do("PUT", "/v1/a/a/policy", s.token("a/a", adm),
		`{"audit_keeps_recalled_content":false,"sender_window_s":60,"admin_window_s":60,"message_retention_s":120,"audit_retention_s":86400}`); r.status != 200 {
		t.Fatalf("set policy: %d %s", r.status, r.body)
	}
	recalledText, expiredText, keptText := secretText(t, "recalled"), secretText(t, "expired"), secretText(t, "kept")
	recalled := s.send("alice", "bob", "chat", "txt", recalledText, "c1")
	expired := s.send("alice", "bob", "chat", "txt", expiredText, "c2")

	// before: every answer shows both (so the checks below can fail)
	eventuallyWithin(t, 30*time.Second, func() string {
		for where, body := range s.everywhere(t) {
			if !strings.Contains(body, recalledText) || !strings.Contains(body, expiredText) {
				return where + " lacks content it should show before the recall"
			}
		}
		return ""
	})
	r, x := s.sealedSend(t, recalled), s.sealedSend(t, expired)
	doomed := map[string][]byte{
		"recalled live": s.wrappedKey(t, r.ContentLive.KeyID), "recalled audit": s.wrappedKey(t, r.ContentAudit.KeyID),
		"expired live": s.wrappedKey(t, x.ContentLive.KeyID), "expired audit": s.wrappedKey(t, x.ContentAudit.KeyID),
	}

	recallThenExpire(t, s, clock, recalled, expired, recalledText, expiredText)

	// audit retention (one day), applied at start, destroys the rest
	clock.Advance(48 * time.Hour)
	tokens := s.tokens
	s.shutdown()
	s = startServerWith(t, dir, clock)
	s.tokens = tokens
	kept := s.send("alice", "bob", "chat", "txt", keptText, "c3")
	noShreddedAnywhere := func(s *server) {
		t.Helper()
		eventuallyWithin(t, 30*time.Second, func() string {
			for where, body := range s.everywhere(t) {
				for _, text := range []string{recalledText, expiredText} {
					if strings.Contains(body, text) {
						return fmt.Sprintf("%s still shows %s", where, text)
					}
				}
				if !strings.Contains(body, keptText) {
					return where + " lacks the content that was kept"
				}
			}
			return ""
		})
	}
	noShreddedAnywhere(s)
	keptKey := s.wrappedKey(t, s.sealedSend(t, kept).ContentLive.KeyID)
	before := s.everywhere(t)["conversation for bob"]
	s.shutdown()

	noFileHolds(t, dir, []string{recalledText, expiredText, keptText}, doomed, keptKey)

	// a rebuild of every read model shows the same, byte for byte
	if err := os.RemoveAll(filepath.Join(dir, "readmodels")); err != nil {
		t.Fatal(err)
	}
	s = startServerWith(t, dir, clock)
	s.tokens = tokens
	noShreddedAnywhere(s)
	if after := s.everywhere(t)["conversation for bob"]; after != before {
		t.Fatalf("the conversation after a rebuild:\n%s\nbefore:\n%s", after, before)
	}
	s.shutdown()

	answeredWithoutTheKeyStore(t, dir, clock, tokens, keptText)
}

// noFileHolds compacts dir's key store fully, then finds no file of dir
// holding any of texts in plaintext, nor the wrapped bytes of the doomed
// keys, and the kept key still in one (so the scan finds what is there).
func noFileHolds(t *testing.T, dir string, texts []string, doomed map[string][]byte, keptKey []byte) {
	t.Helper()
	keys, err := keystore.Open(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := keys.Close(); err != nil {
		t.Fatal(err)
	}
	for _, text := range texts {
		if files := keystoretest.FilesHolding(t, dir, []byte(text)); len(files) > 0 {
			t.Errorf("plaintext %q is in %v", text, files)
		}
	}
	for name, b := range doomed {
		if files := keystoretest.FilesHolding(t, dir, b); len(files) > 0 {
			t.Errorf("the %s key's wrapped bytes are still in %v", name, files)
		}
	}
	if len(keystoretest.FilesHolding(t, dir, keptKey)) == 0 {
		t.Error("the kept message's key is in no file: the scan finds nothing")
	}
}

// answeredWithoutTheKeyStore removes dir's key store and starts recalld
// on the log alone: every answer is given, marked key_unavailable, and
// shows no content (keptText included), never a 500.
func answeredWithoutTheKeyStore(t *testing.T, dir string, clock *clocktest.Clock, tokens map[string]map[domain.AccessRole]string, keptText string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(dir, "keys")); err != nil {
		t.Fatal(err)
	}
	s := startServerWith(t, dir, clock)
	s.tokens = tokens
	eventuallyWithin(t, 30*time.Second, func() string {
		for where, body := range s.everywhere(t) {
			if strings.Contains(body, keptText) {
				return where + " shows content whose key is gone"
			}
			if !strings.HasPrefix(where, "audit csv") && !strings.Contains(body, `"content_redacted":"key_unavailable"`) {
				return where + " does not say the key is unavailable: " + body
			}
		}
		return ""
	})
}

// recallThenExpire recalls msg recalled, lets expired expire, and waits
// until the recall took both its copies from every answer and the expiry
// the live one (the audit copy lives until audit retention).
func recallThenExpire(t *testing.T, s *server, clock *clocktest.Clock, recalled, expired, recalledText, expiredText string) {
	t.Helper()
	if m := s.do("POST", "/v1/a/a/messages/"+recalled+"/recall", s.token("a/a", svc), `{"actor":"alice"}`).json(t); m["recalled"] != true {
		t.Fatalf("recall: %v", m)
	}
	clock.Advance(121 * time.Second)
	eventuallyWithin(t, 60*time.Second, func() string {
		for _, e := range s.events() {
			if p, ok := e.Data.(domain.MessageExpired); ok && string(p.MsgID) == expired {
				return ""
			}
		}
		return "the message did not expire"
	})
	// the recall took both copies; the expiry the live one, the audit copy
	// lives until audit retention
	eventuallyWithin(t, 30*time.Second, func() string {
		for where, body := range s.everywhere(t) {
			if strings.Contains(body, recalledText) {
				return "recalled content still in " + where
			}
			if strings.HasPrefix(where, "audit") != strings.Contains(body, expiredText) {
				return "expired content: only the audit log keeps it until audit retention; " + where + " disagrees"
			}
		}
		if !strings.Contains(s.everywhere(t)["feed"], `"content_redacted":"shredded"`) {
			return "the feed does not mark shredded content"
		}
		return ""
	})
}
