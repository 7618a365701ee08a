package auditlog

import (
	"context"
	"fmt"

	"github.com/recallledger/recall/domain"
)

// Open opens the sealed audit copies of entries through o at the edge
// (domain.Reveal): each send entry gets its content, or none and
// content_redacted saying why (its audit key was shredded, or is not
// here). The sealed copy and the live key's id are taken out: answers
// never carry them. Only a failing key store or KEK provider fails it.
func Open(ctx context.Context, o domain.ContentOpener, t domain.Tenant, entries []Entry) error {
	for i := range entries {
		e := &entries[i]
		e.LiveKeyID = ""
		if e.Sealed == nil || e.Content != nil {
			e.Sealed = nil // a worker's entry holds the content the bus decrypted
			continue
		}
		c, marker, err := domain.Reveal(ctx, o, t, domain.MsgID(e.MsgID), domain.PurposeAudit, *e.Sealed)
		if err != nil {
			return fmt.Errorf("audit entry %d: %w", e.Seq, err)
		}
		if marker != "" {
			e.ContentRedacted = string(marker)
		} else {
			e.Content = &c
		}
		e.Sealed = nil
	}
	return nil
}

// ContentKeys is what audit retention destroys of a send entry e: its
// content's audit and live keys, and what a legal hold matches on. ok is
// false for an entry with no sealed content.
func ContentKeys(t domain.Tenant, e Entry) (ref domain.ContentRef, keyIDs []string, ok bool) {
	if e.Action != ActionSend || (e.Sealed == nil && e.LiveKeyID == "") {
		return domain.ContentRef{}, nil, false
	}
	if e.Sealed != nil {
		keyIDs = append(keyIDs, e.Sealed.KeyID)
	}
	if e.LiveKeyID != "" {
		keyIDs = append(keyIDs, e.LiveKeyID)
	}
	return domain.ContentRef{Tenant: t, MsgID: domain.MsgID(e.MsgID), From: domain.UserID(e.Actor), ConversationID: e.ConversationID, SentAt: e.At.Time()}, keyIDs, true
}
