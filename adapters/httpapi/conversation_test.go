package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections/auditlog"
)

// A one-to-one conversation named in either order is the same one: its
// messages, its live stream and the audit filter by conversation_id all
// find what alice and bob said, whichever of them comes first in the URL.
func TestOneToOneConversationIDInEitherOrderIsTheSameConversation(t *testing.T) {
	r := newRig(t)
	hi := r.send("alice", "bob", "chat", "hi bob")
	back := r.send("bob", "alice", "chat", "hi alice")
	r.feed()
	for _, conv := range []string{"chat:alice:bob", "chat:bob:alice"} {
		t.Run(conv, func(t *testing.T) {
			v := r.view(conv, "bob")
			if len(v.Messages) != 2 || v.Messages[0].MsgID != string(hi) || v.Messages[1].MsgID != string(back) {
				t.Fatalf("messages of %s: %+v", conv, v.Messages)
			}
			if v.ConversationID != "chat:alice:bob" {
				t.Fatalf("conversation_id %q, want the canonical chat:alice:bob", v.ConversationID)
			}
			if got := r.streamed(conv, "alice", back); !slices.Equal(got, []string{"sent " + string(hi), "sent " + string(back)}) {
				t.Fatalf("stream of %s: %v", conv, got)
			}
			status, body := r.get(domain.AccessAuditor, "/audit?action=send&conversation_id="+conv)
			if status != http.StatusOK {
				t.Fatalf("audit: %d %s", status, body)
			}
			var page auditlog.Page
			if err := json.Unmarshal(body, &page); err != nil {
				t.Fatal(err)
			}
			if len(page.Entries) != 2 {
				t.Fatalf("audit entries for conversation_id=%s: %d, want the 2 sends", conv, len(page.Entries))
			}
		})
	}
	// not a participant either way round
	if status, body := r.get(domain.AccessService, "/conversations/chat:bob:carol/messages?viewer=alice"); status != http.StatusForbidden {
		t.Fatalf("a stranger's view: %d %s", status, body)
	}
	// a malformed id in the audit filter is refused, not silently matched against nothing
	status, body := r.get(domain.AccessAuditor, "/audit?conversation_id=chat:alice")
	var e apiError
	_ = json.Unmarshal(body, &e)
	if status != http.StatusBadRequest || e.Error != "invalid_conversation_id" {
		t.Fatalf("malformed conversation_id in the audit filter: %d %s", status, body)
	}
}
