package domain

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// sent returns the state of a message sent at t0 by alice.
func sent(chat ChatType, to UserID, typ MessageType) Message {
	m := NewMessage()
	m.Exists, m.Version = true, 0
	m.SentAt = NewTime(t0)
	m.Sent = MessageSent{MsgID: "m1", ConversationID: ConversationID(chat, "alice", to), ChatType: chat, From: "alice", To: to, MsgType: typ}
	return m
}

func policyWith(f func(*Policy)) Policy {
	p := DefaultPolicy()
	p.Version = 3
	if f != nil {
		f(&p)
	}
	return p
}

func TestDecideRecall(t *testing.T) {
	chat := sent(ChatSingle, "bob", "txt")
	group := sent(ChatGroup, "g1", "txt")
	room := sent(ChatRoom, "r1", "txt")
	with := func(m Message, f func(*Message)) Message { f(&m); return m }
	ms := func(n int64) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	cmd := func(actor UserID, role ActorRole) RecallCommand {
		return RecallCommand{MsgID: "m1", Actor: actor, Role: role, Platform: "ios"}
	}
	def := policyWith(nil)

	cases := []struct {
		name     string
		cmd      RecallCommand
		m        Message
		p        Policy
		now      time.Time
		reason   Reason // empty: recalled
		windowMs int64
	}{
		// rule 8: the boundary of the sender window
		{"sender within window is allowed", cmd("alice", ActorMember), chat, def, ms(1000), "", 120_000},
		{"elapsed equals window is allowed", cmd("alice", ActorMember), chat, def, ms(120_000), "", 120_000},
		{"1 ms past the window is a timeout", cmd("alice", ActorMember), chat, def, ms(120_001), ReasonExceedTimeLimit, 120_000},
		{"a custom sender window applies", cmd("alice", ""), chat, policyWith(func(p *Policy) { p.SenderWindowS = 5 }), ms(5001), ReasonExceedTimeLimit, 5000},
		{"a send in the future (clock step back) counts as 0 elapsed", cmd("alice", ActorMember), chat, def, t0.Add(-time.Second), "", 120_000},

		// rule 6 and the admin window, by role
		{"group owner gets the admin window in a group", cmd("owner", ActorGroupOwner), group, def, ms(3_600_000), "", 86_400_000},
		{"group admin gets the admin window in a chat room", cmd("mod", ActorGroupAdmin), room, def, ms(86_400_000), "", 86_400_000},
		{"admin window boundary plus 1 ms is a timeout", cmd("mod", ActorGroupAdmin), group, def, ms(86_400_001), ReasonExceedTimeLimit, 86_400_000},
		{"group owner has no power in a one-to-one chat", cmd("owner", ActorGroupOwner), chat, def, ms(1000), ReasonForbidden, 120_000},
		{"group owner who is the sender of a 1:1 message uses the sender window", cmd("alice", ActorGroupOwner), chat, def, ms(120_001), ReasonExceedTimeLimit, 120_000},
		{"tenant admin may recall anywhere with the admin window", cmd("root", ActorTenantAdmin), chat, def, ms(600_000), "", 86_400_000},
		{"another member may not recall", cmd("bob", ActorMember), chat, def, ms(10), ReasonForbidden, 120_000},
		{"another group member may not recall", cmd("bob", ActorMember), group, def, ms(10), ReasonForbidden, 120_000},
		{"the deny list forbids even the sender", cmd("alice", ActorMember), chat, policyWith(func(p *Policy) { p.DenyRecallUsers = []UserID{"alice"} }), ms(10), ReasonForbidden, 120_000},
		{"the deny list forbids a tenant admin too", cmd("root", ActorTenantAdmin), chat, policyWith(func(p *Policy) { p.DenyRecallUsers = []UserID{"root"} }), ms(10), ReasonForbidden, 86_400_000},

		// rule 7
		{"red packets are never recallable", cmd("alice", ActorMember), sent(ChatSingle, "bob", "red_packet"), def, ms(10), ReasonTypeNotRecallable, 120_000},
		{"transfers are never recallable, even by a tenant admin", cmd("root", ActorTenantAdmin), sent(ChatSingle, "bob", "transfer"), def, ms(10), ReasonTypeNotRecallable, 86_400_000},
		{"files are recallable by default", cmd("alice", ActorMember), sent(ChatSingle, "bob", "file"), def, ms(10), "", 120_000},
		{"files are not recallable when the policy leaves them out", cmd("alice", ActorMember), sent(ChatSingle, "bob", "file"),
			policyWith(func(p *Policy) { p.RecallableTypes = []MessageType{"txt"} }), ms(10), ReasonTypeNotRecallable, 120_000},

		// rule 9
		{"block_after_read refuses once a recipient read it", cmd("alice", ActorMember), with(chat, func(m *Message) { m.ReadBy = []UserID{"bob"} }),
			policyWith(func(p *Policy) { p.BlockAfterRead = true }), ms(10), ReasonReadByRecipient, 120_000},
		{"block_after_read ignores the sender's own read", cmd("alice", ActorMember), with(chat, func(m *Message) { m.ReadBy = []UserID{"alice"} }),
			policyWith(func(p *Policy) { p.BlockAfterRead = true }), ms(10), "", 120_000},
		{"a read message is recallable without block_after_read", cmd("alice", ActorMember), with(chat, func(m *Message) { m.ReadBy = []UserID{"bob"} }), def, ms(10), "", 120_000},

		// rules 1 to 5
		{"a disabled tenant refuses first", cmd("alice", ActorMember), NewMessage(), policyWith(func(p *Policy) { p.RecallEnabled = false }), ms(10), ReasonServiceDisabled, 0},
		{"a missing message is not_found", cmd("alice", ActorMember), NewMessage(), def, ms(10), ReasonNotFound, 0},
		{"an expired message is expired", cmd("alice", ActorMember), with(chat, func(m *Message) { m.Expired = true }), def, ms(10), ReasonExpired, 120_000},
		{"past retention counts as expired before the expiry event", cmd("root", ActorTenantAdmin), chat,
			policyWith(func(p *Policy) { p.MessageRetentionS = 3600; p.AdminWindowS = 3600 }), ms(3_600_001), ReasonExpired, 3_600_000},
		{"exactly at retention is not expired", cmd("root", ActorTenantAdmin), chat,
			policyWith(func(p *Policy) { p.MessageRetentionS = 3600; p.AdminWindowS = 3600 }), ms(3_600_000), "", 3_600_000},
		{"a recalled message is already_recalled", cmd("alice", ActorMember), with(chat, func(m *Message) { m.Recalled = true }), def, ms(10), ReasonAlreadyRecalled, 120_000},
		{"a wrong recipient is recipient_mismatch", RecallCommand{MsgID: "m1", Actor: "admin", Role: ActorTenantAdmin, To: "carol"}, chat, def, ms(10), ReasonRecipientMismatch, 86_400_000},
		{"the right recipient passes rule 5", RecallCommand{MsgID: "m1", Actor: "admin", Role: ActorTenantAdmin, To: "bob"}, chat, def, ms(10), "", 86_400_000},

		// order: the earlier rule wins
		{"disabled beats not found", cmd("bob", ActorMember), NewMessage(), policyWith(func(p *Policy) { p.RecallEnabled = false }), ms(10), ReasonServiceDisabled, 0},
		{"expired beats already recalled", cmd("alice", ActorMember), with(chat, func(m *Message) { m.Expired, m.Recalled = true, true }), def, ms(10), ReasonExpired, 120_000},
		{"already recalled beats forbidden", cmd("bob", ActorMember), with(chat, func(m *Message) { m.Recalled = true }), def, ms(10), ReasonAlreadyRecalled, 120_000},
		{"recipient mismatch beats forbidden", RecallCommand{MsgID: "m1", Actor: "bob", Role: ActorMember, To: "carol"}, chat, def, ms(10), ReasonRecipientMismatch, 120_000},
		{"forbidden beats type not recallable", cmd("bob", ActorMember), sent(ChatSingle, "bob", "red_packet"), def, ms(10), ReasonForbidden, 120_000},
		{"type not recallable beats timeout", cmd("alice", ActorMember), sent(ChatSingle, "bob", "transfer"), def, ms(999_999), ReasonTypeNotRecallable, 120_000},
		{"timeout beats read by recipient", cmd("alice", ActorMember), with(chat, func(m *Message) { m.ReadBy = []UserID{"bob"} }),
			policyWith(func(p *Policy) { p.BlockAfterRead = true }), ms(120_001), ReasonExceedTimeLimit, 120_000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, payload := DecideRecall(c.cmd, c.m, c.p, c.now)
			if d.PolicyVersion != c.p.Version {
				t.Errorf("policy version %d, want %d", d.PolicyVersion, c.p.Version)
			}
			if d.WindowMs != c.windowMs {
				t.Errorf("window %d ms, want %d", d.WindowMs, c.windowMs)
			}
			if d.ElapsedMs < 0 {
				t.Errorf("negative elapsed %d", d.ElapsedMs)
			}
			if c.reason == "" {
				rec, ok := payload.(*MessageRecalled)
				if !d.Recalled || d.Reason != "" || !ok {
					t.Fatalf("got %+v (%T), want recalled", d, payload)
				}
				if rec.Actor != c.cmd.Actor || rec.ElapsedMs != d.ElapsedMs || rec.WindowMs != d.WindowMs || rec.PolicyVersion != c.p.Version || len(rec.ReadBy) != len(c.m.ReadBy) {
					t.Fatalf("event %+v does not match decision %+v", rec, d)
				}
				if d.ElapsedMs > d.WindowMs {
					t.Fatalf("accepted past the window: %+v", d)
				}
				return
			}
			rej, ok := payload.(*RecallRejected)
			if d.Recalled || d.Reason != c.reason || !ok || rej.Reason != c.reason {
				t.Fatalf("got %+v (%T %+v), want refused %s", d, payload, payload, c.reason)
			}
			if rej.Actor != c.cmd.Actor || rej.ElapsedMs != d.ElapsedMs || rej.WindowMs != d.WindowMs {
				t.Fatalf("event %+v does not match decision %+v", rej, d)
			}
		})
	}
}

func TestRecalledEventCarriesExposureAndRequest(t *testing.T) {
	m := sent(ChatGroup, "g1", "txt")
	m.ReadBy = []UserID{"bob", "carol"}
	c := RecallCommand{MsgID: "m1", Actor: "alice", Role: ActorMember, Platform: "web", ReasonText: "typo", RequestID: "r-1"}
	d, payload := DecideRecall(c, m, DefaultPolicy(), t0.Add(1500*time.Millisecond))
	rec := payload.(*MessageRecalled)
	if !d.Recalled || rec.ElapsedMs != 1500 || rec.ReasonText != "typo" || rec.RequestID != "r-1" || rec.Platform != "web" ||
		len(rec.ReadBy) != 2 || rec.ReadBy[0] != "bob" || rec.ActorRole != ActorMember {
		t.Fatalf("recalled event %+v", rec)
	}
	// the exposure is a copy: later reads do not change what was recorded
	m.ReadBy[0] = "mallory"
	if rec.ReadBy[0] != "bob" {
		t.Fatal("exposure aliases the message state")
	}
}

func TestEasemobStrings(t *testing.T) {
	want := map[Reason]string{
		ReasonServiceDisabled:   "message recall service is unopened",
		ReasonNotFound:          "not_found msg",
		ReasonExpired:           "not_found msg",
		ReasonAlreadyRecalled:   "not_found msg",
		ReasonRecipientMismatch: "can't find msg to",
		ReasonExceedTimeLimit:   "exceed recall time limit",
		ReasonForbidden:         "forbidden",
		ReasonTypeNotRecallable: "type_not_recallable",
		ReasonReadByRecipient:   "read_by_recipient",
	}
	if len(want) != len(Reasons) {
		t.Fatalf("%d reasons listed, %d checked", len(Reasons), len(want))
	}
	for _, r := range Reasons {
		if got := r.Easemob(); got != want[r] {
			t.Errorf("%s: %q, want %q", r, got, want[r])
		}
		if r.IsTimeout() != (r == ReasonExceedTimeLimit) {
			t.Errorf("%s: IsTimeout %v", r, r.IsTimeout())
		}
	}
}

func TestDecideExpire(t *testing.T) {
	p := policyWith(func(p *Policy) { p.MessageRetentionS = 60; p.SenderWindowS = 60; p.AdminWindowS = 60 })
	m := sent(ChatSingle, "bob", "txt")
	if _, ok := DecideExpire(m, p, t0.Add(60*time.Second)); ok {
		t.Fatal("expired at exactly the retention")
	}
	exp, ok := DecideExpire(m, p, t0.Add(60*time.Second+time.Millisecond))
	if !ok || exp.MsgID != "m1" || exp.RetentionS != 60 {
		t.Fatalf("1 ms past retention: %+v %v", exp, ok)
	}
	m.Expired = true
	if _, ok := DecideExpire(m, p, t0.Add(time.Hour)); ok {
		t.Fatal("a message expired twice")
	}
	if _, ok := DecideExpire(NewMessage(), p, t0.Add(time.Hour)); ok {
		t.Fatal("a missing message expired")
	}
}

func TestMessagePurgedBeforeItExpiredStillExpiresOnce(t *testing.T) {
	p := policyWith(func(p *Policy) { p.MessageRetentionS = 60; p.SenderWindowS = 60; p.AdminWindowS = 60 })
	purged := NewMessage() // the stream holds nothing any more
	readsLeft := NewMessage()
	readsLeft.Version, readsLeft.ReadBy = 3, []UserID{"bob"} // the send went, later reads stayed
	expired := NewMessage()
	expired.Expired = true
	cases := []struct {
		name string
		m    Message
		now  time.Time
		want bool
	}{
		{"at exactly the retention it is kept", purged, t0.Add(60 * time.Second), false},
		{"1 ms past retention it expires", purged, t0.Add(60*time.Second + time.Millisecond), true},
		{"a stream with only later events expires", readsLeft, t0.Add(time.Hour), true},
		{"an expiry already recorded is not repeated", expired, t0.Add(time.Hour), false},
		{"a stream that still holds the send is DecideExpire's", sent(ChatSingle, "bob", "txt"), t0.Add(time.Hour), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			exp, ok := DecideExpirePurged(c.m, "m1", t0, p, c.now)
			if ok != c.want {
				t.Fatalf("expires %v, want %v", ok, c.want)
			}
			if ok && (exp.MsgID != "m1" || exp.RetentionS != 60) {
				t.Fatalf("payload %+v", exp)
			}
		})
	}
}

// RetainedSince is what a read model filters by; it must draw the line
// exactly where DecideExpire does.
func TestRetainedSinceAgreesWithExpiry(t *testing.T) {
	p := policyWith(func(p *Policy) { p.MessageRetentionS = 60; p.SenderWindowS = 60; p.AdminWindowS = 60 })
	m := sent(ChatSingle, "bob", "txt")
	for _, d := range []time.Duration{0, 59 * time.Second, 60 * time.Second, 60*time.Second + time.Millisecond, time.Hour} {
		now := t0.Add(d)
		_, expires := DecideExpire(m, p, now)
		hidden := m.SentAt.Time().Before(p.RetainedSince(now))
		if expires != hidden {
			t.Errorf("at sent_at+%v: DecideExpire %v, RetainedSince hides %v", d, expires, hidden)
		}
	}
}

func TestDecideRead(t *testing.T) {
	chat := sent(ChatSingle, "bob", "txt")
	read := func(reader UserID, m Message) (*MessageRead, error) {
		return DecideRead(ReadCommand{MsgID: "m1", Reader: reader, Platform: "ios"}, m)
	}
	if r, err := read("bob", chat); err != nil || r == nil || r.Reader != "bob" {
		t.Fatalf("first read: %+v %v", r, err)
	}
	chat.ReadBy = []UserID{"bob"}
	for name, m := range map[string]Message{"repeat": chat, "recalled": func() Message { m := chat; m.ReadBy = nil; m.Recalled = true; return m }(),
		"expired": func() Message { m := chat; m.ReadBy = nil; m.Expired = true; return m }()} {
		if r, err := read("bob", m); err != nil || r != nil {
			t.Errorf("%s: %+v %v, want nothing recorded", name, r, err)
		}
	}
	if r, err := read("alice", sent(ChatSingle, "bob", "txt")); err != nil || r != nil {
		t.Errorf("sender's own read: %+v %v", r, err)
	}
	if _, err := read("mallory", chat); err == nil {
		t.Error("a stranger read a one-to-one message")
	}
	if r, err := read("anyone", sent(ChatGroup, "g1", "txt")); err != nil || r == nil {
		t.Errorf("group member read: %+v %v", r, err)
	}
	if _, err := read("bob", NewMessage()); err == nil {
		t.Error("read of a missing message succeeded")
	}
}
