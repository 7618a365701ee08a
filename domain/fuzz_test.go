package domain

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzDecideRecall holds the decision to its invariants whatever the
// message, policy and clock: no panic, a refusal always names a reason from
// the table, an accepted recall is always within the window that applied
// and records the exposure, and the event matches the decision.
func FuzzDecideRecall(f *testing.F) {
	f.Add(int64(1000), int64(120), int64(86400), int64(604800), "alice", "member", "chat", "txt", true, false, false, false, "")
	f.Add(int64(120001), int64(120), int64(86400), int64(604800), "alice", "", "chat", "file", true, false, false, false, "bob")
	f.Add(int64(-5), int64(1), int64(1), int64(1), "owner", "group_owner", "groupchat", "red_packet", false, true, true, true, "g")
	f.Fuzz(func(t *testing.T, elapsedMs, senderS, adminS, retentionS int64, actor, role, chat, typ string, enabled, recalled, expired, blockAfterRead bool, to string) {
		p := DefaultPolicy()
		p.RecallEnabled, p.BlockAfterRead = enabled, blockAfterRead
		p.SenderWindowS, p.AdminWindowS, p.MessageRetentionS = senderS%1_000_000, adminS%1_000_000, retentionS%20_000_000
		// the message's history: sent (unless chat is empty: no message),
		// read by bob, then perhaps recalled and expired
		var history []recorded
		if chat != "" {
			history = append(history, recorded{0, MessageSent{MsgID: "m", From: "alice", To: "bob", ChatType: ChatType(chat), MsgType: MessageType(typ)}},
				recorded{1, MessageRead{MsgID: "m", Reader: "bob"}})
			if recalled {
				history = append(history, recorded{2, MessageRecalled{MsgID: "m", Actor: "alice"}})
			}
			if expired {
				history = append(history, recorded{3, MessageExpired{MsgID: "m"}})
			}
		}
		m := given(t, history...)
		cmd := RecallCommand{MsgID: "m", Actor: UserID(actor), Role: ActorRole(role), To: UserID(to)}
		now := m.SentAt.Time().Add(time.Duration(elapsedMs%1e12) * time.Millisecond)
		d, payload := DecideRecall(cmd, m, p, now)
		if d.ElapsedMs < 0 {
			t.Fatalf("negative elapsed %d", d.ElapsedMs)
		}
		if !d.Recalled {
			known := false
			for _, r := range Reasons {
				known = known || r == d.Reason
			}
			rej, ok := payload.(RecallRejected)
			if !known || !ok || rej.Reason != d.Reason {
				t.Fatalf("refusal without a known reason: %+v %T", d, payload)
			}
			return
		}
		rec, ok := payload.(MessageRecalled)
		if !ok || d.Reason != "" || d.ElapsedMs > d.WindowMs || rec.ElapsedMs != d.ElapsedMs || len(rec.ReadBy) != 1 {
			t.Fatalf("accepted recall breaks an invariant: %+v %+v", d, payload)
		}
		if !enabled || chat == "" || recalled || expired || !p.Recallable(MessageType(typ)) {
			t.Fatalf("accepted a recall a rule forbids: %+v", d)
		}
	})
}

// FuzzParsers: every parser refuses or accepts without panicking, and what
// it accepts parses again to the same value.
func FuzzParsers(f *testing.F) {
	for _, s := range []string{"demo/demo", "a/b/c", "chat:alice:bob", "groupchat:g1", "m-1", "", "\xff", "a\x00b", "用户"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if tn, err := ParseTenant(s); err == nil {
			if again, err := ParseTenant(tn.String()); err != nil || again != tn {
				t.Fatalf("tenant %q does not round-trip", s)
			}
		}
		if id, err := ParseMsgID(s); err == nil && string(id) != s {
			t.Fatalf("msg id changed: %q", s)
		}
		if u, err := ParseUserID("x", s); err == nil && string(u) != s {
			t.Fatalf("user id changed: %q", s)
		}
		_, _ = ParseConversationID(s)
		_, _ = ParseChatType(s)
		_, _ = ParseMessageType(s)
		_, _ = ParsePlatform(s)
		_, _ = ParseActorRole(s)
		_, _ = ParseToken("x", s)
		_ = CheckReasonText(s)
		if _, err := NewSendCommand("a", "b", "chat", "txt", s, "", ""); err == nil {
			if len(s) > MaxContentBytes {
				t.Fatal("oversized content accepted")
			}
		}
	})
}

// FuzzEventDecode: any bytes a stored or received event could hold decode
// or fail cleanly, and a decoded event round-trips.
func FuzzEventDecode(f *testing.F) {
	f.Add([]byte(`{"event_id":"x","type":"MessageSent","schema_version":1,"tenant":"a/b","stream":"s","stream_version":0,"position":1,"occurred_at":"2026-11-24T10:00:00.000Z","data":{"msg_id":"m"}}`))
	f.Add([]byte(`{"type":"RecallRejected","data":{"reason":7}}`))
	f.Add([]byte(`{"type":"TenantPolicySet","occurred_at":"bad","data":null}`))
	f.Add([]byte(`{"event_id":"o","type":"OperatorRoleChanged","tenant":"a/b","stream":"operator-a/b","data":{"name":"alice","role":"auditor","previous_role":"admin","by":"recallctl"}}`))
	f.Add([]byte(`{"event_id":"h","type":"LegalHoldPlaced","tenant":"a/b","stream":"hold-a/b","data":{"hold_id":"h1","scope":"user","subject":"alice","from":"2026-11-01T00:00:00.000Z","case":"c","reason":"","by":"token:admin"}}`))
	f.Add([]byte(`{"event_id":"e","type":"ContentErased","tenant":"a/b","stream":"erasure-a/b.x","data":{"erasure_id":"x","user":"alice","erased":["m1"],"held":[{"msg_id":"m2","hold_ids":["h1"]}],"final":true}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := DecodeEvent(raw)
		var std Event
		if stdErr := json.Unmarshal(raw, &std); (stdErr == nil) != (err == nil) {
			t.Fatalf("DecodeEvent: %v; through encoding/json: %v", err, stdErr)
		}
		if err != nil {
			return
		}
		var m Message
		_ = m.Apply(e)
		var o Operator
		_ = o.Apply(e)
		var hs Holds
		_ = hs.Apply(e)
		_ = hs.Covering(ContentRef{From: "alice", ConversationID: "chat:a:b"})
		var er Erasure
		_ = er.Apply(e)
		again, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("a decoded event does not encode: %v", err)
		}
		back, err := DecodeEvent(again)
		if err != nil {
			t.Fatalf("an encoded event does not decode: %v\n%s", err, again)
		}
		if twice, _ := json.Marshal(back); !bytes.Equal(twice, again) {
			t.Fatalf("encoding is not stable:\n%s\n%s", again, twice)
		}
	})
}
