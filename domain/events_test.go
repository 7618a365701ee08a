package domain

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenEvents is one event of each type, with fixed ids, times and
// positions: the encoding of schema v1 is pinned by testdata/*.golden.json.
func goldenEvents(t *testing.T) map[string]Event {
	t.Helper()
	tn, _ := ParseTenant("acme/chat")
	at := time.Date(2026, 11, 24, 10, 0, 0, 120_000_000, time.UTC)
	policy := DefaultPolicy()
	changed := policy
	changed.SenderWindowS, changed.DenyRecallUsers = 300, []UserID{"mallory"}
	payloads := map[string]any{
		TypeMessageSent: MessageSent{MsgID: "m-1", ConversationID: "chat:alice:bob", ChatType: ChatSingle, From: "alice", To: "bob",
			MsgType: "txt", Content: "see you at <9> & bring 票", ContentSHA256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
			Platform: "ios", ClientMsgID: "c-1"},
		TypeMessageRead: MessageRead{MsgID: "m-1", Reader: "bob", Platform: "android"},
		TypeMessageRecalled: MessageRecalled{MsgID: "m-1", Actor: "admin", ActorRole: RoleTenantAdmin, Platform: "admin-api", ReasonText: "typo",
			RequestID: "r-1", ElapsedMs: 86404210, WindowMs: 86400000, PolicyVersion: 2, ReadBy: []UserID{"bob"}, Forced: true},
		TypeRecallRejected: RecallRejected{MsgID: "m-1", Actor: "alice", ActorRole: RoleMember, Platform: "ios", Reason: ReasonExceedTimeLimit,
			ElapsedMs: 120001, WindowMs: 120000, PolicyVersion: 2},
		TypeMessageExpired:  MessageExpired{MsgID: "m-1", RetentionS: 604800},
		TypeTenantPolicySet: changed.Next(policy, "token:admin"),
		TypeAuditQueried:    AuditQueried{Viewer: "auditor", Query: "actor=alice&format=csv", Format: "csv", Results: 3},
	}
	for typ, p := range operatorPayloads() {
		payloads[typ] = p
	}
	out := map[string]Event{}
	i := 0
	for _, typ := range append([]string{TypeMessageSent, TypeMessageRead, TypeMessageRecalled, TypeRecallRejected, TypeMessageExpired, TypeTenantPolicySet, TypeAuditQueried}, operatorTypes...) {
		i++
		e, err := NewEvent(fmt.Sprintf("0b4c6c1e-1d1f-4a43-9d55-5a7e2a1d%04d", i), tn, at, typ, payloads[typ])
		if err != nil {
			t.Fatal(err)
		}
		e.Stream, e.StreamVersion, e.Position = MessageStream(tn, "m-1"), int64(i-1), uint64(100+i)
		switch typ {
		case TypeTenantPolicySet:
			e.Stream, e.StreamVersion = TenantStream(tn), 0
		case TypeAuditQueried:
			e.Stream, e.StreamVersion = AuditStream(tn), 0
		}
		if slices.Contains(operatorTypes, typ) {
			e.Stream, e.StreamVersion = OperatorStream(tn), int64(slices.Index(operatorTypes, typ))
		}
		out[typ] = e
	}
	return out
}

func TestEventEncodingMatchesGoldenFiles(t *testing.T) {
	for typ, e := range goldenEvents(t) {
		t.Run(typ, func(t *testing.T) {
			got, err := json.MarshalIndent(e, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", typ+".golden.json")
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./domain -update to create it)", err)
			}
			if !bytes.Equal(append(got, '\n'), want) {
				t.Fatalf("encoding of %s changed: a v1 field's encoding is a public contract\n got %s\nwant %s", typ, got, want)
			}
			var back Event
			if err := json.Unmarshal(want, &back); err != nil {
				t.Fatal(err)
			}
			payload, err := back.Decode()
			if err != nil {
				t.Fatal(err)
			}
			again, _ := json.Marshal(payload)
			orig, _ := json.Marshal(mustDecode(t, e))
			if !bytes.Equal(again, orig) || back.Position != e.Position || back.OccurredAt != e.OccurredAt {
				t.Fatalf("round trip changed the event:\n%s\n%s", again, orig)
			}
		})
	}
}

func mustDecode(t *testing.T, e Event) any {
	t.Helper()
	p, err := e.Decode()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
