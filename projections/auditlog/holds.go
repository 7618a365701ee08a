package auditlog

import (
	"strings"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/codec"
	"github.com/recallledger/recall/projections"
)

// The audit log follows the tenant's legal holds as they are recorded, in
// log order, so that what it does with content is decided by the events
// alone (a rebuild decides the same): a recall under
// audit_keeps_recalled_content: false blanks the audit copy of the
// content only where no hold covers it. Where one does, the recall entry
// names the holds (content_held_by=…) and the content stays until the
// last of them is released; the release's entry then follows the blanking.

// holdKey holds a hold in force; keptKey a recalled message whose content
// a hold kept from the blanking.
func holdKey(tenant, id string) []byte  { return tkey("k", tenant, []byte(id)) }
func keptKey(tenant, msg string) []byte { return tkey("q", tenant, []byte(msg)) }

func placeHold(tx projections.Tx, tenant string, p domain.LegalHoldPlaced) error {
	return projections.SetJSON(tx, holdKey(tenant, p.HoldID), domain.Hold{ID: p.HoldID, Scope: p.Scope, Subject: p.Subject, From: p.From, To: p.To})
}

// heldBy is the ids of the holds in force that cover ref, by id.
func heldBy(tx projections.Tx, tenant string, ref domain.ContentRef) ([]string, error) {
	prefix := tkey("k", tenant)
	var ids []string
	var decodeErr error
	err := tx.Scan(prefix, projections.PrefixEnd(prefix), false, func(_, v []byte) bool {
		var h domain.Hold
		if decodeErr = codec.Unmarshal(v, &h); decodeErr != nil {
			return false
		}
		if h.Covers(ref) {
			ids = append(ids, h.ID)
		}
		return true
	})
	if err == nil {
		err = decodeErr
	}
	return ids, err
}

// sendRef is the content a message's send entry is about, as a hold
// matches it; found is false once the entry is purged.
func sendRef(tx projections.Tx, tenant, msg string) (domain.ContentRef, bool, error) {
	var info msgInfo
	found, err := getState(tx, msgKey(tenant, msg), &info)
	if err != nil || !found {
		return domain.ContentRef{}, false, err
	}
	var send Entry
	found, err = projections.GetJSON(tx, entryKey(tenant, info.SendSeq), &send)
	if err != nil || !found {
		return domain.ContentRef{}, false, err
	}
	return domain.ContentRef{MsgID: domain.MsgID(msg), From: domain.UserID(send.Actor), ConversationID: send.ConversationID, SentAt: send.At.Time()}, true, nil
}

// recallBlanks reports whether a recall of msg blanks its audit content
// (the tenant does not keep recalled content), and the holds that keep it
// from that.
func recallBlanks(tx projections.Tx, tenant, msg string) (blank bool, held []string, err error) {
	pol := tenantPolicy{KeepContent: true}
	if _, err := getState(tx, policyKey(tenant), &pol); err != nil || pol.KeepContent {
		return false, nil, err
	}
	ref, found, err := sendRef(tx, tenant, msg)
	if err != nil || !found {
		return found, nil, err
	}
	held, err = heldBy(tx, tenant, ref)
	return true, held, err
}

// recalled applies a recall's entry: its content blanked, or kept and the
// holds named.
func (pr Projection) recalled(tx projections.Tx, ev domain.Event, p domain.MessageRecalled) error {
	blank, held, err := recallBlanks(tx, ev.Tenant, string(p.MsgID))
	if err != nil {
		return err
	}
	e := recallEntry(p)
	if blank && len(held) > 0 {
		e.Detail += " content_held_by=" + strings.Join(held, ",")
	}
	if _, ok, err := pr.appendEntry(tx, ev, e, nil); err != nil || !ok || !blank {
		return err
	}
	if len(held) > 0 {
		return tx.Set(keptKey(ev.Tenant, string(p.MsgID)), nil)
	}
	return dropContent(tx, ev.Tenant, string(p.MsgID))
}

// releaseHold forgets a released hold and blanks the recalled content it
// alone kept.
func releaseHold(tx projections.Tx, tenant, id string) error {
	if err := tx.Delete(holdKey(tenant, id)); err != nil {
		return err
	}
	prefix := tkey("q", tenant)
	var kept []string
	err := tx.Scan(prefix, projections.PrefixEnd(prefix), false, func(k, _ []byte) bool {
		kept = append(kept, string(k[len(prefix):]))
		return true
	})
	if err != nil {
		return err
	}
	for _, msg := range kept {
		ref, found, err := sendRef(tx, tenant, msg)
		if err != nil {
			return err
		}
		if found {
			held, err := heldBy(tx, tenant, ref)
			if err != nil || len(held) > 0 {
				return err
			}
			if err := dropContent(tx, tenant, msg); err != nil {
				return err
			}
		}
		if err := tx.Delete(keptKey(tenant, msg)); err != nil {
			return err
		}
	}
	return nil
}
