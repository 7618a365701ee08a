package domain

import (
	"fmt"
	"slices"
	"time"
)

// Limits a policy must keep.
const (
	DefaultSenderWindowS     = 120
	DefaultAdminWindowS      = 86400
	MaxAdminWindowS          = 7 * 86400
	DefaultMessageRetentionS = 7 * 86400
	MaxMessageRetentionS     = 180 * 86400
	DefaultAuditRetentionS   = 180 * 86400
	MinAuditRetentionS       = 86400
	MaxAuditRetentionS       = 10 * 365 * 86400
	maxDenyUsers             = 10000
)

// Policy is a tenant's recall policy. Version counts the policy changes:
// the default policy, never set, is version 0. Build one with NewPolicy or
// DefaultPolicy; a Policy that exists is valid.
type Policy struct {
	Version                   int64         `json:"version"`
	RecallEnabled             bool          `json:"recall_enabled"`
	SenderWindowS             int64         `json:"sender_window_s"`
	AdminWindowS              int64         `json:"admin_window_s"`
	MessageRetentionS         int64         `json:"message_retention_s"`
	AuditRetentionS           int64         `json:"audit_retention_s"`
	BlockAfterRead            bool          `json:"block_after_read"`
	RecallableTypes           []MessageType `json:"recallable_types"`
	DenyRecallUsers           []UserID      `json:"deny_recall_users"`
	AuditKeepsRecalledContent bool          `json:"audit_keeps_recalled_content"`
	FeedContent               FeedContent   `json:"feed_content"`
}

// DefaultPolicy is what a tenant gets until an admin sets one.
func DefaultPolicy() Policy {
	return Policy{
		RecallEnabled:             true,
		SenderWindowS:             DefaultSenderWindowS,
		AdminWindowS:              DefaultAdminWindowS,
		MessageRetentionS:         DefaultMessageRetentionS,
		AuditRetentionS:           DefaultAuditRetentionS,
		RecallableTypes:           []MessageType{"txt", "img", "loc", "audio", "video", "file", "cmd", "custom"},
		DenyRecallUsers:           []UserID{},
		AuditKeepsRecalledContent: true,
		FeedContent:               FeedPlaintext,
	}
}

// PolicySpec is a requested policy: nil fields keep their default.
type PolicySpec struct {
	RecallEnabled             *bool    `json:"recall_enabled"`
	SenderWindowS             *int64   `json:"sender_window_s"`
	AdminWindowS              *int64   `json:"admin_window_s"`
	MessageRetentionS         *int64   `json:"message_retention_s"`
	AuditRetentionS           *int64   `json:"audit_retention_s"`
	BlockAfterRead            *bool    `json:"block_after_read"`
	RecallableTypes           []string `json:"recallable_types"`
	DenyRecallUsers           []string `json:"deny_recall_users"`
	AuditKeepsRecalledContent *bool    `json:"audit_keeps_recalled_content"`
	FeedContent               *string  `json:"feed_content"`
}

// NewPolicy validates spec over the defaults. It refuses a recall window
// longer than the message retention: a message must not expire while it
// may still be recalled; and an audit retention shorter than the message
// retention or the admin window: the audit purge removes a message's
// events with its entries, so it must never reach one that may still be
// recalled or has not yet expired.
func NewPolicy(spec PolicySpec) (Policy, error) {
	p := DefaultPolicy()
	setBool(&p.RecallEnabled, spec.RecallEnabled)
	setBool(&p.BlockAfterRead, spec.BlockAfterRead)
	setBool(&p.AuditKeepsRecalledContent, spec.AuditKeepsRecalledContent)
	setInt(&p.SenderWindowS, spec.SenderWindowS)
	setInt(&p.AdminWindowS, spec.AdminWindowS)
	setInt(&p.MessageRetentionS, spec.MessageRetentionS)
	setInt(&p.AuditRetentionS, spec.AuditRetentionS)

	switch {
	case p.SenderWindowS < 1:
		return Policy{}, invalid("invalid_policy", "sender_window_s must be at least 1")
	case p.AdminWindowS < 1 || p.AdminWindowS > MaxAdminWindowS:
		return Policy{}, invalid("invalid_policy", "admin_window_s must be between 1 and %d (7 days)", MaxAdminWindowS)
	case p.MessageRetentionS < 1 || p.MessageRetentionS > MaxMessageRetentionS:
		return Policy{}, invalid("invalid_policy", "message_retention_s must be between 1 and %d (180 days)", MaxMessageRetentionS)
	case p.SenderWindowS > p.MessageRetentionS:
		return Policy{}, invalid("invalid_policy", "sender_window_s %d is longer than message_retention_s %d: a message must not expire while it may still be recalled", p.SenderWindowS, p.MessageRetentionS)
	case p.AdminWindowS > p.MessageRetentionS:
		return Policy{}, invalid("invalid_policy", "admin_window_s %d is longer than message_retention_s %d: a message must not expire while it may still be recalled", p.AdminWindowS, p.MessageRetentionS)
	case p.AuditRetentionS < MinAuditRetentionS || p.AuditRetentionS > MaxAuditRetentionS:
		return Policy{}, invalid("invalid_policy", "audit_retention_s must be between %d (1 day) and %d (10 years)", MinAuditRetentionS, MaxAuditRetentionS)
	case p.AuditRetentionS < p.AdminWindowS:
		return Policy{}, invalid("invalid_policy", "audit_retention_s %d is shorter than admin_window_s %d: the audit purge must never remove a message that may still be recalled", p.AuditRetentionS, p.AdminWindowS)
	case p.AuditRetentionS < p.MessageRetentionS:
		return Policy{}, invalid("invalid_policy", "audit_retention_s %d is shorter than message_retention_s %d: the audit purge must never remove a message before it expires", p.AuditRetentionS, p.MessageRetentionS)
	}

	if spec.FeedContent != nil {
		f, err := ParseFeedContent(*spec.FeedContent)
		if err != nil {
			return Policy{}, err
		}
		p.FeedContent = f
	}
	if spec.RecallableTypes != nil {
		p.RecallableTypes = make([]MessageType, 0, len(spec.RecallableTypes))
		for _, s := range spec.RecallableTypes {
			t, err := ParseMessageType(s)
			if err != nil {
				return Policy{}, invalid("invalid_policy", "recallable_types: %v", err)
			}
			if neverRecallable[t] {
				return Policy{}, invalid("invalid_policy", "recallable_types: %s can never be recalled", t)
			}
			if !slices.Contains(p.RecallableTypes, t) {
				p.RecallableTypes = append(p.RecallableTypes, t)
			}
		}
	}
	if spec.DenyRecallUsers != nil {
		if len(spec.DenyRecallUsers) > maxDenyUsers {
			return Policy{}, invalid("invalid_policy", "deny_recall_users: at most %d users", maxDenyUsers)
		}
		p.DenyRecallUsers = make([]UserID, 0, len(spec.DenyRecallUsers))
		for _, s := range spec.DenyRecallUsers {
			u, err := ParseUserID("deny_recall_users", s)
			if err != nil {
				return Policy{}, invalid("invalid_policy", "%v", err)
			}
			if !slices.Contains(p.DenyRecallUsers, u) {
				p.DenyRecallUsers = append(p.DenyRecallUsers, u)
			}
		}
	}
	return p, nil
}

func setBool(dst *bool, v *bool) {
	if v != nil {
		*dst = *v
	}
}

func setInt(dst *int64, v *int64) {
	if v != nil {
		*dst = *v
	}
}

// SenderWindow is how long a sender may recall their own message.
func (p Policy) SenderWindow() time.Duration { return time.Duration(p.SenderWindowS) * time.Second }

// AdminWindow is how long a group owner/admin or tenant admin may recall.
func (p Policy) AdminWindow() time.Duration { return time.Duration(p.AdminWindowS) * time.Second }

// MessageRetention is how long a message lives before it expires.
func (p Policy) MessageRetention() time.Duration {
	return time.Duration(p.MessageRetentionS) * time.Second
}

// MessageLifetime is how long a message may still be recalled or shown:
// the longest of the message retention and the recall windows. NewPolicy
// keeps the windows within the retention; a policy recorded before that
// rule may not have.
func (p Policy) MessageLifetime() time.Duration {
	return time.Duration(max(p.MessageRetentionS, p.AdminWindowS, p.SenderWindowS)) * time.Second
}

// AuditRetention is how long the audit purge keeps entries, and the
// events behind them: audit_retention_s, but never less than the
// MessageLifetime, so the purge never removes a message that may still be
// recalled or has not expired. NewPolicy refuses a shorter
// audit_retention_s; a policy recorded before that rule may carry one.
func (p Policy) AuditRetention() time.Duration {
	return max(time.Duration(p.AuditRetentionS)*time.Second, p.MessageLifetime())
}

// RetainedSince is the oldest send time still inside the message retention
// at now: a message sent before it is past retention (as DecideExpire
// decides), whether or not its MessageExpired has been recorded yet, and
// no read model may show it.
func (p Policy) RetainedSince(now time.Time) time.Time { return now.Add(-p.MessageRetention()) }

// Recallable reports whether rule 7 lets a message of type t be recalled.
func (p Policy) Recallable(t MessageType) bool {
	return !neverRecallable[t] && slices.Contains(p.RecallableTypes, t)
}

// Denied reports whether u is on the tenant's deny list.
func (p Policy) Denied(u UserID) bool { return slices.Contains(p.DenyRecallUsers, u) }

// Next is p as the next version of the tenant's policy, recorded as set by
// changedBy, with the fields it changes from prev.
func (p Policy) Next(prev Policy, changedBy string) TenantPolicySet {
	p.Version = prev.Version + 1
	return TenantPolicySet{Policy: p, ChangedBy: changedBy, Changes: PolicyChanges(prev, p)}
}

// String is a short summary for logs.
func (p Policy) String() string {
	return fmt.Sprintf("v%d enabled=%t sender=%ds admin=%ds retention=%ds", p.Version, p.RecallEnabled, p.SenderWindowS, p.AdminWindowS, p.MessageRetentionS)
}
