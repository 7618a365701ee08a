package domain

import (
	"fmt"
	"testing"
)

func TestPolicyChangesNameEachChangedFieldWithOldAndNew(t *testing.T) {
	def := DefaultPolicy()
	with := func(f func(*Policy)) Policy {
		p := DefaultPolicy()
		p.RecallableTypes = append([]MessageType{}, p.RecallableTypes...)
		f(&p)
		return p
	}
	cases := []struct {
		name     string
		old, new Policy
		want     string
	}{
		{"the same policy changes nothing", def, def, "[]"},
		{"a new version alone changes nothing", def, with(func(p *Policy) { p.Version = 9 }), "[]"},
		{"a number", def, with(func(p *Policy) { p.SenderWindowS = 300 }), "[sender_window_s: 120 → 300]"},
		{"a boolean", def, with(func(p *Policy) { p.BlockAfterRead = true }), "[block_after_read: false → true]"},
		{"a list", def, with(func(p *Policy) { p.DenyRecallUsers = []UserID{"mallory"} }), `[deny_recall_users: [] → ["mallory"]]`},
		{"several, in the policy's field order", with(func(p *Policy) { p.AuditKeepsRecalledContent = false; p.RecallEnabled = false }), def,
			"[recall_enabled: false → true audit_keeps_recalled_content: false → true]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := fmt.Sprint(PolicyChanges(c.old, c.new)); got != c.want {
				t.Fatalf("changes %s, want %s", got, c.want)
			}
		})
	}
}

func TestNextRecordsTheChangesFromThePreviousVersion(t *testing.T) {
	prev := DefaultPolicy()
	p := prev
	p.AdminWindowS = 3600
	set := p.Next(prev, "token:admin")
	if set.Version != 1 || set.ChangedBy != "token:admin" || fmt.Sprint(set.Changes) != "[admin_window_s: 86400 → 3600]" {
		t.Fatalf("next: %+v", set)
	}
}
