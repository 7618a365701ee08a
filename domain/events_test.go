package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
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
	payloads := map[string]Payload{
		TypeMessageSent: MessageSent{MsgID: "m-1", ConversationID: "chat:alice:bob", ChatType: ChatSingle, From: "alice", To: "bob",
			MsgType: "txt", Content: "see you at <9> & bring 票", ContentSHA256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
			Platform: "ios", ClientMsgID: "c-1"},
		TypeMessageRead: MessageRead{MsgID: "m-1", Reader: "bob", Platform: "android"},
		TypeMessageRecalled: MessageRecalled{MsgID: "m-1", Actor: "admin", ActorRole: ActorTenantAdmin, Platform: "admin-api", ReasonText: "typo",
			RequestID: "r-1", ElapsedMs: 86404210, WindowMs: 86400000, PolicyVersion: 2, ReadBy: []UserID{"bob"}, Forced: true},
		TypeRecallRejected: RecallRejected{MsgID: "m-1", Actor: "alice", ActorRole: ActorMember, Platform: "ios", Reason: ReasonExceedTimeLimit,
			ElapsedMs: 120001, WindowMs: 120000, PolicyVersion: 2},
		TypeMessageExpired:  MessageExpired{MsgID: "m-1", RetentionS: 604800},
		TypeTenantPolicySet: changed.Next(policy, "token:admin"),
		TypeAuditQueried:    AuditQueried{Viewer: "auditor", Query: "actor=alice&format=csv", Format: "csv", Results: 3},
	}
	for typ, p := range operatorPayloads() {
		payloads[typ] = p
	}
	for typ, p := range compliancePayloads() {
		payloads[typ] = p
	}
	out := map[string]Event{}
	i := 0
	types := append([]string{TypeMessageSent, TypeMessageRead, TypeMessageRecalled, TypeRecallRejected, TypeMessageExpired, TypeTenantPolicySet, TypeAuditQueried}, operatorTypes...)
	for _, typ := range append(types, complianceTypes...) {
		i++
		e := NewEvent(fmt.Sprintf("0b4c6c1e-1d1f-4a43-9d55-5a7e2a1d%04d", i), tn, at, payloads[typ])
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
		switch typ {
		case TypeLegalHoldPlaced, TypeLegalHoldReleased:
			e.Stream, e.StreamVersion = HoldStream(tn), int64(slices.Index(complianceTypes, typ))
		case TypeErasureRequested, TypeContentErased:
			e.Stream, e.StreamVersion = ErasureStream(tn, "5d9f0c1e-7b7a-5b43-8d55-1a7e2a1d0001"), int64(slices.Index(complianceTypes, typ)-2)
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
			typed, err := DecodeEvent(want)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := back.MarshalJSON()
			orig, _ := e.MarshalJSON()
			direct, _ := typed.MarshalJSON()
			if !bytes.Equal(again, orig) || !bytes.Equal(direct, orig) || back.Data.EventType() != typ {
				t.Fatalf("round trip changed the event:\n%s\n%s\n%s", again, direct, orig)
			}
		})
	}
}

// Stored or received JSON decodes into its typed payload once, by type;
// what v1 does not have is a clear error, and nothing that could not be
// decoded again is ever encoded.
func TestEventDecodingPicksThePayloadByType(t *testing.T) {
	golden := goldenEvents(t)
	for typ, e := range golden {
		if e.Type() != typ || e.Data.EventType() != typ {
			t.Fatalf("%s: event type %q, payload type %q", typ, e.Type(), e.Data.EventType())
		}
	}
	sent, _ := golden[TypeMessageSent].MarshalJSON()
	cases := []struct {
		name string
		raw  string
		err  string // empty: decodes
	}{
		{"a known type", string(sent), ""},
		{"an unknown type", strings.Replace(string(sent), `"type":"MessageSent"`, `"type":"MessageEdited"`, 1), `unknown type "MessageEdited"`},
		{"no type", strings.Replace(string(sent), `"type":"MessageSent",`, "", 1), `unknown type ""`},
		{"no data", `{"event_id":"x","type":"MessageRead"}`, "no payload"},
		{"data of the wrong shape", `{"event_id":"x","type":"MessageRead","data":{"reader":7}}`, "decode MessageRead x"},
		{"not an object", `[1]`, "decode event"},
		{"trailing bytes", string(sent) + "}", "decode event"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := DecodeEvent([]byte(c.raw))
			if c.err == "" {
				if err != nil || !reflect.DeepEqual(e.Data, golden[TypeMessageSent].Data) {
					t.Fatalf("decoded %+v, %v", e, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v, want one saying %q", err, c.err)
			}
		})
	}
	var unknown *UnknownTypeError
	if _, err := DecodeEvent([]byte(cases[1].raw)); !errors.As(err, &unknown) || unknown.Type != "MessageEdited" || unknown.ID != golden[TypeMessageSent].ID {
		t.Fatalf("unknown type: %v, want an *UnknownTypeError naming it and the event", err)
	}
	tn, _ := ParseTenant("a/a")
	for name, e := range map[string]Event{"no payload": {ID: "x"}, "a payload v1 lacks": NewEvent("x", tn, t0, notInSchema{})} {
		if b, err := json.Marshal(e); err == nil {
			t.Errorf("%s encoded: %s", name, b)
		}
	}
}

type notInSchema struct{}

func (notInSchema) EventType() string { return "NotInSchema" }
