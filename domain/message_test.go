package domain

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustEvent(t *testing.T, typ string, version int64, at time.Time, data any) Event {
	t.Helper()
	tn, _ := ParseTenant("a/a")
	e, err := NewEvent("id-"+typ, tn, at, typ, data)
	if err != nil {
		t.Fatal(err)
	}
	e.StreamVersion = version
	return e
}

func TestMessageApply(t *testing.T) {
	m := NewMessage()
	if m.Exists || m.Version != -1 {
		t.Fatalf("new message %+v", m)
	}
	steps := []Event{
		mustEvent(t, TypeMessageSent, 0, t0, MessageSent{MsgID: "m1", From: "alice", To: "bob", ChatType: ChatSingle, MsgType: "txt"}),
		mustEvent(t, TypeMessageRead, 1, t0.Add(time.Second), MessageRead{MsgID: "m1", Reader: "bob"}),
		mustEvent(t, TypeMessageRead, 2, t0.Add(2*time.Second), MessageRead{MsgID: "m1", Reader: "bob"}),
		mustEvent(t, TypeRecallRejected, 3, t0.Add(3*time.Second), RecallRejected{MsgID: "m1", Actor: "bob", Reason: ReasonForbidden, RequestID: "rb"}),
		mustEvent(t, TypeMessageRecalled, 4, t0.Add(4*time.Second), MessageRecalled{MsgID: "m1", Actor: "alice", RequestID: "ra", ElapsedMs: 4000, WindowMs: 120000}),
		mustEvent(t, TypeMessageExpired, 5, t0.Add(time.Hour), MessageExpired{MsgID: "m1", RetentionS: 60}),
	}
	for _, e := range steps {
		if err := m.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	if !m.Exists || m.Version != 5 || !m.SentAt.Time().Equal(t0) || len(m.ReadBy) != 1 || !m.Recalled || m.RecalledBy != "alice" ||
		!m.RecalledAt.Time().Equal(t0.Add(4*time.Second)) || !m.Expired || len(m.Attempts) != 2 {
		t.Fatalf("state %+v", m)
	}
	a, ok := m.Replay("alice", "ra")
	if !ok || !a.Decision.Recalled || a.Decision.ElapsedMs != 4000 {
		t.Fatalf("replay of alice's request: %+v %v", a, ok)
	}
	a, ok = m.Replay("bob", "rb")
	if !ok || a.Decision.Reason != ReasonForbidden {
		t.Fatalf("replay of bob's request: %+v %v", a, ok)
	}
	if _, ok := m.Replay("bob", "ra"); ok {
		t.Fatal("another actor's request id replayed")
	}
	if _, ok := m.Replay("alice", ""); ok {
		t.Fatal("an empty request id replayed")
	}
	if err := m.Apply(mustEvent(t, TypeTenantPolicySet, 6, t0, TenantPolicySet{Policy: DefaultPolicy()})); err == nil {
		t.Fatal("a policy event applied to a message")
	}
	if err := m.Apply(Event{ID: "x", Type: "Bogus"}); err == nil {
		t.Fatal("an unknown event type applied")
	}
}

func TestNewSendCommand(t *testing.T) {
	ok := func(from, to, chat, typ, content string) error {
		_, err := NewSendCommand(from, to, chat, typ, content, "ios", "c1")
		return err
	}
	cases := []struct {
		name string
		err  error
		code string
	}{
		{"a valid send", ok("alice", "bob", "chat", "txt", "hi"), ""},
		{"emoji and CJK content", ok("alice", "bob", "chat", "txt", "撤回 😀"), ""},
		{"newlines in content are kept", ok("alice", "bob", "chat", "txt", "a\nb"), ""},
		{"empty sender", ok("", "bob", "chat", "txt", "hi"), "invalid_from"},
		{"sender with a space", ok("a b", "bob", "chat", "txt", "hi"), "invalid_from"},
		{"sender of 65 characters", ok(strings.Repeat("a", 65), "bob", "chat", "txt", "hi"), "invalid_from"},
		{"unknown chat type", ok("alice", "bob", "dm", "txt", "hi"), "invalid_chat_type"},
		{"unknown message type", ok("alice", "bob", "chat", "exe", "hi"), "invalid_type"},
		{"content of 64 KiB is allowed", ok("alice", "bob", "chat", "txt", strings.Repeat("x", MaxContentBytes)), ""},
		{"content over 64 KiB", ok("alice", "bob", "chat", "txt", strings.Repeat("x", MaxContentBytes+1)), "invalid_content"},
		{"invalid UTF-8", ok("alice", "bob", "chat", "txt", "\xff"), "invalid_content"},
		{"NUL byte", ok("alice", "bob", "chat", "txt", "a\x00"), "invalid_content"},
		{"one-to-one chat with oneself", ok("alice", "alice", "chat", "txt", "hi"), "invalid_to"},
		{"group chat to a group", ok("alice", "g1", "groupchat", "txt", "hi"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.code == "" {
				if c.err != nil {
					t.Fatal(c.err)
				}
				return
			}
			var inv *InvalidError
			if !errors.As(c.err, &inv) || inv.Code != c.code {
				t.Fatalf("error %v, want %s", c.err, c.code)
			}
		})
	}
	if _, err := NewSendCommand("a", "b", "chat", "txt", "", "iOS", ""); err == nil {
		t.Error("uppercase platform accepted")
	}
	if _, err := NewSendCommand("a", "b", "chat", "txt", "", "", "bad id"); err == nil {
		t.Error("client_msg_id with a space accepted")
	}
}

func TestSendIdentity(t *testing.T) {
	c, err := NewSendCommand("alice", "bob", "chat", "txt", "hello", "ios", "c1")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Sent("m1")
	if s.ContentSHA256 != "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" || s.ConversationID != "chat:alice:bob" {
		t.Fatalf("sent %+v", s)
	}
	if !c.SameSend(s) {
		t.Fatal("a send is not the same as itself")
	}
	other := c
	other.Content = "hellO"
	if other.SameSend(s) {
		t.Fatal("different content counted as the same send")
	}
	retry := c
	retry.Platform = "android" // a retry from another device of the same user is the same send
	if !retry.SameSend(s) {
		t.Fatal("platform made a retry a conflict")
	}
}

func TestNewRecallCommand(t *testing.T) {
	if _, err := NewRecallCommand("m1", "alice", "", "", "typo", "r1"); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][6]string{
		"bad msg id":            {"m.1", "alice", "", "", "", ""},
		"bad actor":             {"m1", "", "", "", "", ""},
		"bad role":              {"m1", "alice", "owner", "", "", ""},
		"newline in reason":     {"m1", "alice", "", "", "a\nb", ""},
		"escape in reason":      {"m1", "alice", "", "", "\x1b[31m", ""},
		"reason over 512 bytes": {"m1", "alice", "", "", strings.Repeat("r", 513), ""},
		"request id too long":   {"m1", "alice", "", "", "", strings.Repeat("r", 129)},
	} {
		if _, err := NewRecallCommand(args[0], args[1], args[2], args[3], args[4], args[5]); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
