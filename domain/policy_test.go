package domain

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func TestDefaultPolicy(t *testing.T) {
	p, err := NewPolicy(PolicySpec{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 0 || !p.RecallEnabled || p.SenderWindowS != 120 || p.AdminWindowS != 86400 ||
		p.MessageRetentionS != 604800 || p.AuditRetentionS != 15552000 || p.BlockAfterRead || !p.AuditKeepsRecalledContent ||
		p.FeedContent != FeedPlaintext {
		t.Fatalf("defaults %+v", p)
	}
	if !p.Recallable("file") || p.Recallable("red_packet") || p.Recallable("transfer") {
		t.Fatalf("default recallable types %v", p.RecallableTypes)
	}
}

func TestNewPolicyValidation(t *testing.T) {
	cases := []struct {
		name string
		spec PolicySpec
		bad  string // part of the error; empty: valid
	}{
		{"sender window of 1 s is allowed", PolicySpec{SenderWindowS: ptr(int64(1))}, ""},
		{"sender window of 0 is refused", PolicySpec{SenderWindowS: ptr(int64(0))}, "sender_window_s must be at least 1"},
		{"negative sender window is refused", PolicySpec{SenderWindowS: ptr(int64(-5))}, "sender_window_s"},
		{"admin window of 7 days is allowed", PolicySpec{AdminWindowS: ptr(int64(604800))}, ""},
		{"admin window over 7 days is refused", PolicySpec{AdminWindowS: ptr(int64(604801))}, "admin_window_s"},
		{"sender window longer than retention is refused", PolicySpec{SenderWindowS: ptr(int64(3601)), MessageRetentionS: ptr(int64(3600)), AdminWindowS: ptr(int64(60))}, "must not expire while it may still be recalled"},
		{"admin window longer than retention is refused", PolicySpec{MessageRetentionS: ptr(int64(3600))}, "admin_window_s 86400 is longer than message_retention_s 3600"},
		{"window equal to retention is allowed", PolicySpec{MessageRetentionS: ptr(int64(3600)), AdminWindowS: ptr(int64(3600)), SenderWindowS: ptr(int64(3600))}, ""},
		{"retention of 180 days is allowed", PolicySpec{MessageRetentionS: ptr(int64(15552000))}, ""},
		{"retention over 180 days is refused", PolicySpec{MessageRetentionS: ptr(int64(15552001))}, "message_retention_s"},
		{"audit retention under a day is refused", PolicySpec{AuditRetentionS: ptr(int64(3600))}, "audit_retention_s"},
		{"audit retention shorter than the admin window is refused", PolicySpec{AuditRetentionS: ptr(int64(86400)), AdminWindowS: ptr(int64(604800)), MessageRetentionS: ptr(int64(604800))},
			"audit_retention_s 86400 is shorter than admin_window_s 604800"},
		{"audit retention shorter than the message retention is refused", PolicySpec{AuditRetentionS: ptr(int64(2 * 86400))},
			"audit_retention_s 172800 is shorter than message_retention_s 604800"},
		{"audit retention longer than the admin window but shorter than the message retention is refused", PolicySpec{AuditRetentionS: ptr(int64(86400)), MessageRetentionS: ptr(int64(2 * 86400)), AdminWindowS: ptr(int64(3600))},
			"audit_retention_s 86400 is shorter than message_retention_s 172800"},
		{"audit retention equal to the message retention and the admin window is allowed", PolicySpec{AuditRetentionS: ptr(int64(86400)), MessageRetentionS: ptr(int64(86400)), AdminWindowS: ptr(int64(86400))}, ""},
		{"the longest message retention with the default audit retention is allowed", PolicySpec{MessageRetentionS: ptr(int64(MaxMessageRetentionS))}, ""},
		{"red packets cannot be made recallable", PolicySpec{RecallableTypes: []string{"txt", "red_packet"}}, "red_packet can never be recalled"},
		{"transfers cannot be made recallable", PolicySpec{RecallableTypes: []string{"transfer"}}, "transfer can never be recalled"},
		{"unknown message types are refused", PolicySpec{RecallableTypes: []string{"exe"}}, "recallable_types"},
		{"bad deny-list users are refused", PolicySpec{DenyRecallUsers: []string{"ok", "not ok"}}, "deny_recall_users"},
		{"an empty recallable list is allowed", PolicySpec{RecallableTypes: []string{}}, ""},
		{"feed_content plaintext is allowed", PolicySpec{FeedContent: ptr("plaintext")}, ""},
		{"feed_content sha256 is allowed", PolicySpec{FeedContent: ptr("sha256")}, ""},
		{"feed_content none is allowed", PolicySpec{FeedContent: ptr("none")}, ""},
		{"an unknown feed_content is refused", PolicySpec{FeedContent: ptr("encrypted")}, `feed_content "encrypted": want plaintext, sha256 or none`},
		{"an empty feed_content is refused", PolicySpec{FeedContent: ptr("")}, `feed_content "": want plaintext, sha256 or none`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewPolicy(c.spec)
			if c.bad == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var inv *InvalidError
			if !errors.As(err, &inv) || inv.Code != "invalid_policy" || !strings.Contains(err.Error(), c.bad) {
				t.Fatalf("error %v, want invalid_policy containing %q", err, c.bad)
			}
		})
	}
}

func TestPolicyListsAreDeduplicated(t *testing.T) {
	p, err := NewPolicy(PolicySpec{RecallableTypes: []string{"txt", "txt", "img"}, DenyRecallUsers: []string{"a", "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.RecallableTypes) != 2 || len(p.DenyRecallUsers) != 1 || !p.Denied("a") || p.Denied("b") {
		t.Fatalf("%+v", p)
	}
}

func TestPolicyNextVersion(t *testing.T) {
	prev := DefaultPolicy()
	prev.Version = 4
	set := DefaultPolicy().Next(prev, "admin")
	if set.Version != 5 || set.ChangedBy != "admin" {
		t.Fatalf("%+v", set)
	}
}

func TestAuditRetentionIsNeverShorterThanWhatMayStillBeRecalled(t *testing.T) {
	const day = 86400
	cases := []struct {
		name                          string
		auditS, senderS, adminS, msgS int64
		want                          time.Duration
	}{
		{"the defaults keep audit_retention_s", DefaultAuditRetentionS, DefaultSenderWindowS, DefaultAdminWindowS, DefaultMessageRetentionS, 180 * 24 * time.Hour},
		{"a recorded audit retention shorter than the message retention keeps the message retention", day, 120, 3600, 7 * day, 7 * 24 * time.Hour},
		{"a recorded audit retention shorter than the admin window keeps the admin window", day, 120, 7 * day, 2 * day, 7 * 24 * time.Hour},
		{"a recorded audit retention shorter than the sender window keeps the sender window", day, 3 * day, 3600, 2 * day, 3 * 24 * time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := DefaultPolicy() // as a policy recorded before NewPolicy refused these
			p.AuditRetentionS, p.SenderWindowS, p.AdminWindowS, p.MessageRetentionS = c.auditS, c.senderS, c.adminS, c.msgS
			if got := p.AuditRetention(); got != c.want {
				t.Fatalf("AuditRetention %v, want %v", got, c.want)
			}
		})
	}
}
