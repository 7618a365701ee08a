package domain

import (
	"testing"
	"time"
)

func TestForcedAdminRecallSkipsTheWindowOnly(t *testing.T) {
	chat := sent(ChatSingle, "bob", "txt")
	group := sent(ChatGroup, "g1", "txt")
	day := t0.Add(24*time.Hour + time.Millisecond) // 1 ms past the default admin window
	forced := func(actor UserID, role ActorRole) RecallCommand {
		return RecallCommand{MsgID: "m1", Actor: actor, Role: role, Platform: "admin-api", Force: true}
	}
	def := policyWith(nil)
	cases := []struct {
		name   string
		cmd    RecallCommand
		m      Message
		p      Policy
		now    time.Time
		reason Reason // empty: recalled
		forced bool
	}{
		{"a forced tenant admin recall passes the admin window", forced("admin", ActorTenantAdmin), chat, def, day, "", true},
		{"an unforced one past the window is a timeout", RecallCommand{MsgID: "m1", Actor: "admin", Role: ActorTenantAdmin}, chat, def, day, ReasonExceedTimeLimit, false},
		{"a forced recall within the window is recorded as forced", forced("admin", ActorTenantAdmin), chat, def, t0.Add(time.Second), "", true},
		{"a group owner's force in a group passes the window", forced("owner", ActorGroupOwner), group, def, day, "", true},
		{"a member's force is ignored: the sender window applies", forced("alice", ActorMember), chat, def, t0.Add(121 * time.Second), ReasonExceedTimeLimit, false},
		{"a group owner's force in a one-to-one chat is a member's", forced("owner", ActorGroupOwner), chat, def, day, ReasonForbidden, false},
		{"rule 1 still applies", forced("admin", ActorTenantAdmin), chat, policyWith(func(p *Policy) { p.RecallEnabled = false }), day, ReasonServiceDisabled, false},
		{"rule 2 still applies", forced("admin", ActorTenantAdmin), NewMessage(), def, day, ReasonNotFound, false},
		{"rule 3 still applies", forced("admin", ActorTenantAdmin), func() Message { m := chat; m.Expired = true; return m }(), def, day, ReasonExpired, false},
		{"rule 4 still applies", forced("admin", ActorTenantAdmin), func() Message { m := chat; m.Recalled = true; return m }(), def, day, ReasonAlreadyRecalled, false},
		{"rule 5 still applies", func() RecallCommand { c := forced("admin", ActorTenantAdmin); c.To = "carol"; return c }(), chat, def, day, ReasonRecipientMismatch, false},
		{"rule 6 still applies", forced("admin", ActorTenantAdmin), chat, policyWith(func(p *Policy) { p.DenyRecallUsers = []UserID{"admin"} }), day, ReasonForbidden, false},
		{"rule 7 still applies", forced("admin", ActorTenantAdmin), sent(ChatSingle, "bob", "red_packet"), def, day, ReasonTypeNotRecallable, false},
		{"rule 9 still applies", forced("admin", ActorTenantAdmin), func() Message { m := chat; m.ReadBy = []UserID{"bob"}; return m }(),
			policyWith(func(p *Policy) { p.BlockAfterRead = true }), day, ReasonReadByRecipient, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, payload := DecideRecall(c.cmd, c.m, c.p, c.now)
			if d.Reason != c.reason || d.Recalled != (c.reason == "") || d.Forced != c.forced {
				t.Fatalf("decision %+v, want reason %q forced %v", d, c.reason, c.forced)
			}
			if rec, ok := payload.(*MessageRecalled); ok && rec.Forced != c.forced {
				t.Fatalf("event forced %v, want %v", rec.Forced, c.forced)
			}
		})
	}
}
