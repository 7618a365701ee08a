package domain

import (
	"context"
	"time"
)

// ContentRef names one message's content for the question every destroyer
// of content asks first: may it be destroyed now? It carries what a legal
// hold can match on — the tenant, the sender, the conversation and the
// time the message was sent — so a hold checker needs no lookup of its own.
type ContentRef struct {
	Tenant         Tenant
	MsgID          MsgID
	From           UserID
	ConversationID string
	SentAt         time.Time
}

// HoldChecker is the port a key store asks before it destroys a content key
// (by recall, expiry, retention or erasure) and the audit purge asks before
// it removes an entry. A hold keeps what it covers past every retention
// until it is released; overlapping holds each keep it. Held answers the
// ids of the holds covering ref, in a stable order (empty: nothing holds it,
// destroy away). An error means the answer is unknown: the caller must not
// destroy.
type HoldChecker interface {
	Held(ctx context.Context, ref ContentRef) (holdIDs []string, err error)
}

// NoHolds is the checker of a deployment with no legal holds: nothing is
// ever held.
type NoHolds struct{}

// Held reports that nothing holds ref.
func (NoHolds) Held(context.Context, ContentRef) ([]string, error) { return nil, nil }
