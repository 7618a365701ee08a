// Package contentshred finishes, from the log, the shredding that a
// recall or an expiry starts. The ledger destroys a message's content keys
// right after it records the recall (or the expiry), in the same request;
// a crash between the two, or a failing key store, would leave the keys
// alive. The Shredder follows the log as a projection with a checkpoint,
// so it destroys them on its next pass whatever happened: each recorded
// recall and expiry ends with its keys destroyed (or kept by a legal
// hold), however the process died. Destroying keys already destroyed does
// nothing, so the replays a crash causes, and a rebuild, are harmless.
package contentshred

import (
	"context"
	"fmt"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
)

// Name is the shredder's name as a consumer of the log.
const Name = "content_shredder"

// Shredder destroys the content keys that recorded recalls and expiries
// destroy. It is fed like a projection; it writes nothing of its own but
// its checkpoint.
type Shredder struct {
	l *ledger.Service
}

// New returns a shredder over the ledger's keyring and store; the ledger
// must have a keyring.
func New(l *ledger.Service) (*Shredder, error) {
	if l.Keyring() == nil {
		return nil, fmt.Errorf("content shredder: the ledger seals no content")
	}
	return &Shredder{l: l}, nil
}

// Name implements projections.Projection.
func (*Shredder) Name() string { return Name }

// Apply implements projections.Projection: a recall destroys the live key
// (and the audit key when the recall says the policy did not keep it), an
// expiry the live key. The message's send is read from its stream; a send
// the store no longer holds had its keys destroyed by audit retention.
func (s *Shredder) Apply(_ projections.Tx, e domain.Event) error {
	var purposes []domain.KeyPurpose
	var msg domain.MsgID
	reason := domain.ShredRecall
	switch p := e.Data.(type) {
	case domain.MessageRecalled:
		msg, purposes = p.MsgID, ledger.RecallShreds(p)
	case domain.MessageExpired:
		msg, purposes, reason = p.MsgID, []domain.KeyPurpose{domain.PurposeLive}, domain.ShredExpiry
	default:
		return nil
	}
	t, err := domain.ParseTenant(e.Tenant)
	if err != nil {
		return fmt.Errorf("content shredder: event %s: %w", e.ID, err)
	}
	ctx := context.Background()
	m, err := s.l.Message(ctx, t, msg)
	if err != nil {
		return fmt.Errorf("content shredder: %w", err)
	}
	if !m.Exists || !m.Sent.Sealed() {
		return nil
	}
	if _, err := s.l.Keyring().ShredSent(ctx, t, m.Sent, m.SentAt, reason, purposes...); err != nil {
		return fmt.Errorf("content shredder: event %s: %w", e.ID, err)
	}
	return nil
}
