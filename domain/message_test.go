package domain

import (
	"errors"
	"strings"
	"testing"
)

// A message's state is its events folded in stream order: given its
// history, then this state.
func TestMessageStateIsItsHistoryFolded(t *testing.T) {
	full := []recorded{
		sentToBob(), readBy(1000, "bob"), readBy(2000, "bob"),
		{3000, RecallRejected{MsgID: "m1", Actor: "bob", Reason: ReasonForbidden, RequestID: "rb"}},
		{4000, MessageRecalled{MsgID: "m1", Actor: "alice", RequestID: "ra", ElapsedMs: 4000, WindowMs: 120000}},
		expiredAt(3_600_000),
	}
	scenarios := []struct {
		name  string
		given Message
		check func(Message) bool
	}{
		{"the zero message does not exist, at NoStream", Message{}, func(m Message) bool {
			return !m.Exists && m.Version() == NoStream && m.Version() == -1
		}},
		{"a send makes it exist, at version 0", given(t, sentToBob()), func(m Message) bool {
			return m.Exists && m.Version() == 0 && m.SentAt.Time().Equal(t0) && m.Sent.To == "bob"
		}},
		{"a repeated read counts once", given(t, full[:3]...), func(m Message) bool {
			return m.Version() == 2 && len(m.ReadBy) == 1 && m.ReadBy[0] == "bob"
		}},
		{"a recall marks it recalled by whom and when", given(t, full[:5]...), func(m Message) bool {
			return m.Recalled && m.RecalledBy == "alice" && m.RecalledAt.Time().Equal(at(4000)) && len(m.Attempts) == 2
		}},
		{"an expiry marks it expired", given(t, full...), func(m Message) bool { return m.Expired && m.Version() == 5 }},
		{"after a purge the version is the stream's, not a count", givenFrom(t, 7, readBy(1000, "bob")), func(m Message) bool {
			return !m.Exists && m.Version() == 7
		}},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			if !s.check(s.given) {
				t.Fatalf("state %+v (version %d)", s.given, s.given.Version())
			}
		})
	}
}

// A retry with the same request id by the same actor replays the attempt
// the history records; nothing else does.
func TestRecordedAttemptsReplayByRequestAndActor(t *testing.T) {
	m := given(t, sentToBob(),
		recorded{3000, RecallRejected{MsgID: "m1", Actor: "bob", Reason: ReasonForbidden, RequestID: "rb"}},
		recorded{4000, MessageRecalled{MsgID: "m1", Actor: "alice", RequestID: "ra", ElapsedMs: 4000, WindowMs: 120000}})
	cases := []struct {
		name     string
		actor    UserID
		request  string
		replayed bool
		recalled bool
		reason   Reason
		atMs     int64
	}{
		{"the accepted attempt replays", "alice", "ra", true, true, "", 4000},
		{"the refused attempt replays with its reason", "bob", "rb", true, false, ReasonForbidden, 3000},
		{"another actor's request id does not", "bob", "ra", false, false, "", 0},
		{"an empty request id never does", "alice", "", false, false, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, ok := m.Replay(c.actor, c.request)
			if ok != c.replayed {
				t.Fatalf("replayed %v, want %v", ok, c.replayed)
			}
			if ok && (a.Decision.Recalled != c.recalled || a.Decision.Reason != c.reason || !a.At.Time().Equal(at(c.atMs))) {
				t.Fatalf("replayed %+v", a)
			}
		})
	}
}

// Only a message's own events apply to it.
func TestMessageRefusesEventsOfOtherStreams(t *testing.T) {
	tn, _ := ParseTenant("a/a")
	for name, e := range map[string]Event{
		"a policy event":     NewEvent("x", tn, t0, TenantPolicySet{Policy: DefaultPolicy()}),
		"an audit query":     NewEvent("x", tn, t0, AuditQueried{Viewer: "auditor"}),
		"a payload v1 lacks": NewEvent("x", tn, t0, notInSchema{}),
		"no payload":         {ID: "x"},
	} {
		var m Message
		if err := m.Apply(e); err == nil {
			t.Errorf("%s applied to a message", name)
		}
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
