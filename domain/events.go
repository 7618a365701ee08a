package domain

import (
	"bytes"
	"fmt"
	"time"

	"github.com/recallledger/recall/domain/codec"
)

// SchemaVersion is the version of the event JSON contract. A v1 field never
// changes meaning; new fields may be added. docs/schema/events-v1.json is
// the JSON Schema of this file, and testdata/ pins the encoding.
const SchemaVersion = 1

// The event types of schema v1.
const (
	TypeMessageSent     = "MessageSent"
	TypeMessageRead     = "MessageRead"
	TypeMessageRecalled = "MessageRecalled"
	TypeRecallRejected  = "RecallRejected"
	TypeMessageExpired  = "MessageExpired"
	TypeTenantPolicySet = "TenantPolicySet"
	TypeAuditQueried    = "AuditQueried"
)

// Payload is the type-specific data of an event: one of the payload types
// below, each naming its event type. Event.Data holds one, decoded; the
// switch over payload types is how the aggregate and the projections tell
// events apart.
type Payload interface {
	// EventType is the event's type in schema v1 ("MessageSent", …).
	EventType() string
}

// Event is one recorded fact, as stored and as published. The store assigns
// Stream, StreamVersion and Position when it appends; the rest is decided
// here. Its JSON (MarshalJSON, DecodeEvent) is the v1 envelope, with the
// type taken from the payload and the payload as data.
type Event struct {
	ID            string
	SchemaVersion int
	Tenant        string
	Stream        string
	StreamVersion int64
	Position      uint64
	OccurredAt    Time
	Data          Payload
}

// Type is the event's type, named by its payload; "" for an event
// without one.
func (e Event) Type() string {
	if e.Data == nil {
		return ""
	}
	return e.Data.EventType()
}

// MessageSent records a send. Content is kept verbatim; ContentSHA256 lets
// the audit log prove content without keeping it. ContentRedacted is never
// stored: the feed sets it when the tenant's feed_content withheld the
// content (RedactForFeed).
type MessageSent struct {
	MsgID          MsgID       `json:"msg_id"`
	ConversationID string      `json:"conversation_id"`
	ChatType       ChatType    `json:"chat_type"`
	From           UserID      `json:"from"`
	To             UserID      `json:"to"`
	MsgType        MessageType `json:"msg_type"`
	Content        string      `json:"content"`
	ContentSHA256  string      `json:"content_sha256"`
	Platform       string      `json:"platform"`
	ClientMsgID    string      `json:"client_msg_id,omitempty"`
	// ContentRedacted is "sha256" or "none" on the feed when content (and
	// under none content_sha256) was withheld, "shredded" (or
	// "key_unavailable", "undecryptable") when the live copy's key is
	// gone; absent otherwise.
	ContentRedacted FeedContent `json:"content_redacted,omitempty"`
	// ContentLive and ContentAudit are the content sealed under the
	// message's live and audit data keys (content.go); when they are
	// present the log's Content is "". Absent from sends recorded before
	// content protection, which carry Content in plaintext.
	ContentLive  *SealedContent `json:"content_live,omitempty"`
	ContentAudit *SealedContent `json:"content_audit,omitempty"`
}

// MessageRead records the first time a reader read a message.
type MessageRead struct {
	MsgID    MsgID  `json:"msg_id"`
	Reader   UserID `json:"reader"`
	Platform string `json:"platform"`
}

// MessageRecalled records an accepted recall. ReadBy is the exposure: who
// had read the message before it was recalled.
type MessageRecalled struct {
	MsgID         MsgID     `json:"msg_id"`
	Actor         UserID    `json:"actor"`
	ActorRole     ActorRole `json:"actor_role"`
	Platform      string    `json:"platform"`
	ReasonText    string    `json:"reason_text,omitempty"`
	RequestID     string    `json:"request_id,omitempty"`
	ElapsedMs     int64     `json:"elapsed_ms"`
	WindowMs      int64     `json:"window_ms"`
	PolicyVersion int64     `json:"policy_version"`
	ReadBy        []UserID  `json:"read_by"`
	// Forced is an admin's forced recall: the recall window (rule 8) was
	// not applied; every other rule was.
	Forced bool `json:"forced,omitempty"`
	// RequestedBy is the named operator who asked for a tenant admin's
	// recall in the console ("operator:alice"); absent for API tokens.
	RequestedBy string `json:"requested_by,omitempty"`
	// ShredsAuditContent records that the tenant's policy did not keep
	// recalled content in the audit log (audit_keeps_recalled_content
	// false): the recall destroys the audit copy's key as well as the
	// live one's. Absent when the audit copy is kept.
	ShredsAuditContent bool `json:"shreds_audit_content,omitempty"`
}

// RecallRejected records a refused recall; refusals are facts too.
type RecallRejected struct {
	MsgID         MsgID     `json:"msg_id"`
	Actor         UserID    `json:"actor"`
	ActorRole     ActorRole `json:"actor_role"`
	Platform      string    `json:"platform"`
	Reason        Reason    `json:"reason"`
	ReasonText    string    `json:"reason_text,omitempty"`
	RequestID     string    `json:"request_id,omitempty"`
	ElapsedMs     int64     `json:"elapsed_ms"`
	WindowMs      int64     `json:"window_ms"`
	PolicyVersion int64     `json:"policy_version"`
	// RequestedBy is as on MessageRecalled.
	RequestedBy string `json:"requested_by,omitempty"`
}

// MessageExpired records that a message passed its tenant's retention.
type MessageExpired struct {
	MsgID      MsgID `json:"msg_id"`
	RetentionS int64 `json:"retention_s"`
}

// TenantPolicySet records a whole new policy, who set it, and what it
// changed from the previous version. Changes is absent from events
// recorded before it was added (nil when decoded).
type TenantPolicySet struct {
	Policy
	ChangedBy string              `json:"changed_by"`
	Changes   []PolicyFieldChange `json:"changes,omitempty"`
}

// AuditQueried records that someone searched or exported the audit log:
// who looked, with which filter. Compliance asks who read the history too.
type AuditQueried struct {
	Viewer  string `json:"viewer"` // the token's role, e.g. "auditor"
	Query   string `json:"query"`  // the filter, as a URL query string
	Format  string `json:"format"`
	Results int    `json:"results"`
}

// AuditStream holds a tenant's audit queries.
func AuditStream(t Tenant) string { return "audit-" + t.String() }

// NewEvent builds an event of tenant recording data at the instant at.
// The id must be unique (a UUID); the store fills in stream, version and
// position.
func NewEvent(id string, t Tenant, at time.Time, data Payload) Event {
	return Event{ID: id, SchemaVersion: SchemaVersion, Tenant: t.String(), OccurredAt: NewTime(at), Data: data}
}

func (MessageSent) EventType() string     { return TypeMessageSent }
func (MessageRead) EventType() string     { return TypeMessageRead }
func (MessageRecalled) EventType() string { return TypeMessageRecalled }
func (RecallRejected) EventType() string  { return TypeRecallRejected }
func (MessageExpired) EventType() string  { return TypeMessageExpired }
func (TenantPolicySet) EventType() string { return TypeTenantPolicySet }
func (AuditQueried) EventType() string    { return TypeAuditQueried }

// Time is a UTC instant with millisecond precision, encoded in JSON as
// RFC 3339 with exactly three fractional digits ("2026-11-24T10:00:00.120Z").
// Recall windows are decided to the millisecond, so nothing finer is kept.
type Time struct{ t time.Time }

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// NewTime truncates t to the millisecond, in UTC.
func NewTime(t time.Time) Time { return Time{t.UTC().Truncate(time.Millisecond)} }

func (t Time) Time() time.Time    { return t.t }
func (t Time) UnixMilli() int64   { return t.t.UnixMilli() }
func (t Time) IsZero() bool       { return t.t.IsZero() }
func (t Time) String() string     { return t.t.Format(timeLayout) }
func (t Time) Before(u Time) bool { return t.t.Before(u.t) }

func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(timeLayout)+2)
	b = append(b, '"')
	b = t.t.AppendFormat(b, timeLayout)
	return append(b, '"'), nil
}

func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if n := len(b); n >= 2 && b[0] == '"' && b[n-1] == '"' && bytes.IndexByte(b, '\\') < 0 {
		s = string(b[1 : n-1]) // as written: a string without escapes
	} else if err := codec.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("time: %w", err)
	}
	p, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("time: %w", err)
	}
	*t = NewTime(p)
	return nil
}
