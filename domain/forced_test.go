package domain

import (
	"testing"
)

func TestForcedAdminRecallSkipsTheWindowOnly(t *testing.T) {
	const day = 24*3_600_000 + 1 // 1 ms past the default admin window
	forced := func(actor UserID, role ActorRole) RecallCommand {
		return RecallCommand{MsgID: "m1", Actor: actor, Role: role, Platform: "admin-api", Force: true}
	}
	to := func(c RecallCommand, who UserID) RecallCommand { c.To = who; return c }
	def := policyWith(nil)
	scenarios := []recallScenario{
		{"a forced tenant admin recall passes the admin window", []recorded{sentToBob()}, def, forced("admin", ActorTenantAdmin), day, forcedRecall(day, 86_400_000)},
		{"an unforced one past the window is a timeout", []recorded{sentToBob()}, def, RecallCommand{MsgID: "m1", Actor: "admin", Role: ActorTenantAdmin}, day,
			refused(ReasonExceedTimeLimit, day, 86_400_000)},
		{"a forced recall within the window is recorded as forced", []recorded{sentToBob()}, def, forced("admin", ActorTenantAdmin), 1000, forcedRecall(1000, 86_400_000)},
		{"a group owner's force in a group passes the window", []recorded{sentToGroup()}, def, forced("owner", ActorGroupOwner), day, forcedRecall(day, 86_400_000)},
		{"a member's force is ignored: the sender window applies", []recorded{sentToBob()}, def, forced("alice", ActorMember), 121_000,
			refused(ReasonExceedTimeLimit, 121_000, 120_000)},
		{"a group owner's force in a one-to-one chat is a member's", []recorded{sentToBob()}, def, forced("owner", ActorGroupOwner), day,
			refused(ReasonForbidden, day, 120_000)},
		{"rule 1 still applies", []recorded{sentToBob()}, policyWith(func(p *Policy) { p.RecallEnabled = false }), forced("admin", ActorTenantAdmin), day,
			refused(ReasonServiceDisabled, day, 86_400_000)},
		{"rule 2 still applies", nil, def, forced("admin", ActorTenantAdmin), day, refused(ReasonNotFound, 0, 0)},
		{"rule 3 still applies", []recorded{sentToBob(), expiredAt(5)}, def, forced("admin", ActorTenantAdmin), day, refused(ReasonExpired, day, 86_400_000)},
		{"rule 4 still applies", []recorded{sentToBob(), recalledBy(5, "alice")}, def, forced("admin", ActorTenantAdmin), day,
			refused(ReasonAlreadyRecalled, day, 86_400_000)},
		{"rule 5 still applies", []recorded{sentToBob()}, def, to(forced("admin", ActorTenantAdmin), "carol"), day, refused(ReasonRecipientMismatch, day, 86_400_000)},
		{"rule 6 still applies", []recorded{sentToBob()}, policyWith(func(p *Policy) { p.DenyRecallUsers = []UserID{"admin"} }), forced("admin", ActorTenantAdmin), day,
			refused(ReasonForbidden, day, 86_400_000)},
		{"rule 7 still applies", []recorded{sentTo(ChatSingle, "bob", "red_packet")}, def, forced("admin", ActorTenantAdmin), day,
			refused(ReasonTypeNotRecallable, day, 86_400_000)},
		{"rule 9 still applies", []recorded{sentToBob(), readBy(5, "bob")}, policyWith(func(p *Policy) { p.BlockAfterRead = true }), forced("admin", ActorTenantAdmin), day,
			refused(ReasonReadByRecipient, day, 86_400_000)},
	}
	for _, s := range scenarios {
		t.Run(s.name, s.check)
	}
}
