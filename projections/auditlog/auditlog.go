// Package auditlog is the enterprise audit log: one entry per event (send,
// read, recall accepted or refused, expire, policy change), per tenant, in
// a hash chain that makes any later change to a stored entry detectable.
//
// Each entry's hash is SHA-256 over the previous entry's hash and the
// entry's canonical encoding, which this package writes itself, byte by
// byte (AppendCanonical; specified in docs/audit-encoding.md), so no
// encoder change can break a stored chain. Content is outside the hash so
// that it can be dropped after a recall when the tenant's policy says so;
// content_sha256 is inside it, and verification checks that any content
// still kept matches it.
package auditlog

import (
	"encoding/binary"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
)

// Name is the projection's name.
const Name = "audit_log"

// Entry is one audited action.
type Entry struct {
	Seq            uint64      `json:"seq"`
	At             domain.Time `json:"at"`
	Position       uint64      `json:"position"`
	EventID        string      `json:"event_id"`
	Action         string      `json:"action"`
	Actor          string      `json:"actor"`
	ActorRole      string      `json:"actor_role"`
	Platform       string      `json:"platform"`
	MsgID          string      `json:"msg_id"`
	ConversationID string      `json:"conversation_id"`
	Outcome        string      `json:"outcome"`
	Reason         string      `json:"reason"`
	ReasonText     string      `json:"reason_text"`
	ContentSHA256  string      `json:"content_sha256"`
	Detail         string      `json:"detail"`
	Content        *string     `json:"content,omitempty"`
	PrevHash       string      `json:"prev_hash"`
	Hash           string      `json:"hash"`
	// ContentRedacted says why a send's sealed content is absent from an
	// answer: its audit key was destroyed ("shredded") or is not here.
	ContentRedacted string `json:"content_redacted,omitempty"`
	// Sealed is a send's audit copy of sealed content, and LiveKeyID its
	// live copy's key, as the read model keeps them (outside the hash,
	// like Content): the edge opens Sealed into Content (Open), and audit
	// retention destroys both keys. Never served.
	Sealed    *domain.SealedContent `json:"content_sealed,omitempty"`
	LiveKeyID string                `json:"live_key_id,omitempty"`
}

// Actions and outcomes.
const (
	ActionSend   = "send"
	ActionRead   = "read"
	ActionRecall = "recall"
	ActionExpire = "expire"
	ActionPolicy = "policy"
	ActionAudit  = "audit"
	// ActionOperator is a change of the tenant's named operators; its
	// outcome says which (created, role_changed, disabled, enabled,
	// password_reset) and actor who made it.
	ActionOperator = "operator"
	// ActionHold is a legal hold placed or released (outcome placed,
	// released); ActionErasure an erasure request (outcome requested) and
	// each chunk of its passes (erased, or deferred when a hold kept some).
	ActionHold    = "hold"
	ActionErasure = "erasure"
)

// Projection builds the audit log.
type Projection struct {
	// chainOnly skips the Merkle tree: the audit log as it was before the
	// tree, which only the rebuild benchmark measures beside it.
	chainOnly bool
}

func (Projection) Name() string { return Name }

// link is the chain position of a tenant: the last entry's seq and hash.
type link struct {
	Seq      uint64 `json:"seq"`
	Hash     string `json:"hash"`
	Position uint64 `json:"position,omitempty"` // of the anchor: the last purged entry's event
}

// KeepOnReset keeps the anchors and tenant policies through a rebuild: after
// a retention purge the log no longer holds the entries before the anchor,
// so a rebuild continues the chain from the kept anchor, skipping events at
// or before its position, as the live log did. The tree's base records and
// stored hashes are kept too: the purged entries' hashes cannot be
// recomputed, and the remaining entries' proofs need them (tree.go).
func (Projection) KeepOnReset() [][]byte {
	return [][]byte{[]byte("a\x00"), []byte("p\x00"), []byte("b\x00"), []byte("s\x00")}
}

// msgInfo is what later entries of a message need from its send.
type msgInfo struct {
	Conv    string `json:"c"`
	SendSeq uint64 `json:"s"`
}

// tenantPolicy is what the audit log keeps of the tenant's policy.
type tenantPolicy struct {
	KeepContent bool  `json:"k"`
	RetentionS  int64 `json:"r"` // audit_retention_s
	// LifetimeS is the policy's MessageLifetime in seconds: the purge keeps
	// at least that long, whatever audit_retention_s says.
	LifetimeS int64 `json:"l"`
}

func policyState(p domain.Policy) tenantPolicy {
	return tenantPolicy{KeepContent: p.AuditKeepsRecalledContent, RetentionS: p.AuditRetentionS, LifetimeS: int64(p.MessageLifetime() / time.Second)}
}

// retention is how long the purge keeps the tenant's entries.
func (p tenantPolicy) retention() time.Duration {
	return time.Duration(max(p.RetentionS, p.LifetimeS)) * time.Second
}

func tkey(kind, tenant string, parts ...[]byte) []byte {
	n := len(kind) + len(tenant) + 2
	for _, p := range parts {
		n += len(p)
	}
	// sized once: every event builds a handful of these keys
	k := append(append(append(append(make([]byte, 0, n), kind...), 0), tenant...), 0)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

func seqBytes(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func entryKey(tenant string, seq uint64) []byte { return tkey("e", tenant, seqBytes(seq)) }
func headKey(tenant string) []byte              { return tkey("h", tenant) }
func anchorKey(tenant string) []byte            { return tkey("a", tenant) }
func msgKey(tenant, msg string) []byte          { return tkey("m", tenant, []byte(msg)) }
func policyKey(tenant string) []byte            { return tkey("p", tenant) }
func timeKey(tenant string, ms int64, seq uint64) []byte {
	return tkey("t", tenant, binary.BigEndian.AppendUint64(nil, uint64(max(0, ms))), seqBytes(seq))
}

// indexKey indexes an entry by one filterable field.
func indexKey(tenant, field, value string, seq uint64) []byte {
	return tkey("i", tenant, []byte(field), []byte{0}, []byte(value), []byte{0}, seqBytes(seq))
}

// indexed lists the indexes of an entry, field and value: one per
// filterable field, and for a recall attempt its own indexes among the
// attempts (recallindex.go).
func indexed(e Entry) [][2]string {
	ix := [][2]string{{"actor", e.Actor}, {"conversation_id", e.ConversationID}, {"msg_id", e.MsgID}, {"action", e.Action}, {"outcome", e.Outcome}}
	if e.Action == ActionRecall {
		ix = append(ix, [2]string{recallIndexField("actor"), e.Actor}, [2]string{recallIndexField("conversation_id"), e.ConversationID})
	}
	return ix
}

// Apply implements projections.Projection: each event that is audited
// becomes the next entry of its tenant's chain (entries.go builds them,
// one function per event type; appendEntry links them). Events of other
// types are not audited.
func (pr Projection) Apply(tx projections.Tx, ev domain.Event) error {
	if _, err := recallIndexesKept(tx); err != nil {
		return err
	}
	switch p := ev.Data.(type) {
	case domain.MessageSent:
		var content *string
		if !p.Sealed() || p.Content != "" {
			// recorded before content protection, or decrypted by the
			// bus forwarder for a worker
			content = &p.Content
		}
		e, ok, err := pr.appendEntry(tx, ev, sealedIn(sendEntry(p), p), content)
		if err != nil || !ok {
			return err
		}
		// what later entries of the message take from its send
		return setState(tx, msgKey(ev.Tenant, e.MsgID), msgInfo{Conv: e.ConversationID, SendSeq: e.Seq})
	case domain.MessageRead:
		return pr.appendOnly(tx, ev, readEntry(p))
	case domain.MessageRecalled:
		return pr.recalled(tx, ev, p)
	case domain.RecallRejected:
		return pr.appendOnly(tx, ev, refusalEntry(p))
	case domain.MessageExpired:
		return pr.appendOnly(tx, ev, expiryEntry(p))
	case domain.TenantPolicySet:
		// the policy the log follows, kept even for an event the
		// retention purge has passed
		if err := setState(tx, policyKey(ev.Tenant), policyState(p.Policy)); err != nil {
			return err
		}
		return pr.appendOnly(tx, ev, policyEntry(p))
	case domain.AuditQueried:
		return pr.appendOnly(tx, ev, auditEntry(p))
	case domain.OperatorPayload:
		return pr.appendOnly(tx, ev, operatorEntry(p))
	case domain.LegalHoldPlaced:
		// the holds the log follows, kept even for an event the retention
		// purge has passed (the hold stream is never purged)
		if err := placeHold(tx, ev.Tenant, p); err != nil {
			return err
		}
		return pr.appendOnly(tx, ev, holdPlacedEntry(p))
	case domain.LegalHoldReleased:
		if err := releaseHold(tx, ev.Tenant, p.HoldID); err != nil {
			return err
		}
		return pr.appendOnly(tx, ev, holdReleasedEntry(p))
	case domain.ErasureRequested:
		return pr.appendOnly(tx, ev, erasureRequestedEntry(p))
	case domain.ContentErased:
		if _, ok, err := pr.appendEntry(tx, ev, contentErasedEntry(p), nil); err != nil || !ok {
			return err
		}
		for _, id := range p.Erased {
			if err := dropContent(tx, ev.Tenant, string(id)); err != nil {
				return err
			}
		}
		return nil
	}
	return nil
}

func (pr Projection) appendOnly(tx projections.Tx, ev domain.Event, e Entry) error {
	_, _, err := pr.appendEntry(tx, ev, e, nil)
	return err
}

// appendEntry links e, built from ev, to the end of ev's tenant's chain
// (and its Merkle tree, tree.go) and stores it with its indexes, content
// (outside the hash) beside it.
// It returns the entry as stored; ok is false when ev is at or before the
// chain's anchor: the retention purge has passed it, and the chain goes on
// from the anchor.
func (pr Projection) appendEntry(tx projections.Tx, ev domain.Event, e Entry, content *string) (_ Entry, ok bool, err error) {
	t := ev.Tenant
	var anchor, head link
	if _, err := getState(tx, anchorKey(t), &anchor); err != nil {
		return Entry{}, false, err
	}
	if ev.Position <= anchor.Position {
		return Entry{}, false, nil
	}
	if _, err := getState(tx, headKey(t), &head); err != nil {
		return Entry{}, false, err
	}
	if head.Seq == 0 {
		head = link{Seq: anchor.Seq, Hash: anchor.Hash}
	}
	e.Seq, e.At, e.Position, e.EventID = head.Seq+1, ev.OccurredAt, ev.Position, ev.ID
	if e.MsgID != "" && e.Action != ActionSend {
		var info msgInfo
		if _, err := getState(tx, msgKey(t, e.MsgID), &info); err != nil {
			return Entry{}, false, err
		}
		e.ConversationID = info.Conv
	}
	e.PrevHash = head.Hash
	// one canonical encoding for the chain hash and the tree's leaf
	var buf [512]byte
	canon := AppendCanonical(buf[:0], e)
	e.Hash = chainHash(e.PrevHash, canon)
	if !pr.chainOnly {
		if err := addToTree(tx, t, e.Seq, tlog.RecordHash(canon)); err != nil {
			return Entry{}, false, err
		}
	}
	e.Content = content
	if err := projections.SetJSON(tx, entryKey(t, e.Seq), e); err != nil {
		return Entry{}, false, err
	}
	for _, f := range indexed(e) {
		if f[1] == "" {
			continue
		}
		if err := tx.Set(indexKey(t, f[0], f[1], e.Seq), nil); err != nil {
			return Entry{}, false, err
		}
	}
	if err := tx.Set(timeKey(t, e.At.UnixMilli(), e.Seq), nil); err != nil {
		return Entry{}, false, err
	}
	return e, true, setState(tx, headKey(t), link{Seq: e.Seq, Hash: e.Hash})
}

// dropContent removes a message's content from its send entry (the hash
// covers content_sha256, not content, so the chain still verifies).
func dropContent(tx projections.Tx, tenant, msg string) error {
	var info msgInfo
	found, err := getState(tx, msgKey(tenant, msg), &info)
	if err != nil || !found {
		return err
	}
	var send Entry
	found, err = projections.GetJSON(tx, entryKey(tenant, info.SendSeq), &send)
	if err != nil || !found || send.Content == nil {
		return err
	}
	// a sealed copy stays: the recall destroyed its key (unless a legal
	// hold keeps it), and retention still needs the key's id
	send.Content = nil
	return projections.SetJSON(tx, entryKey(tenant, info.SendSeq), send)
}

// sealedIn keeps p's sealed audit copy and its live key's id in e.
func sealedIn(e Entry, p domain.MessageSent) Entry {
	e.Sealed = p.ContentAudit
	if p.ContentLive != nil {
		e.LiveKeyID = p.ContentLive.KeyID
	}
	return e
}
