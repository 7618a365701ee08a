package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxContentBytes bounds a message's content; larger media travel by
// reference (a URL in content).
const MaxContentBytes = 64 << 10

// SendCommand is a validated request to record a send.
type SendCommand struct {
	From        UserID
	To          UserID
	ChatType    ChatType
	Type        MessageType
	Content     string
	Platform    string
	ClientMsgID string
}

// NewSendCommand validates the fields of a send.
func NewSendCommand(from, to, chatType, typ, content, platform, clientMsgID string) (SendCommand, error) {
	var c SendCommand
	var err error
	if c.From, err = ParseUserID("from", from); err != nil {
		return c, err
	}
	if c.To, err = ParseUserID("to", to); err != nil {
		return c, err
	}
	if c.ChatType, err = ParseChatType(chatType); err != nil {
		return c, err
	}
	if c.Type, err = ParseMessageType(typ); err != nil {
		return c, err
	}
	if c.Platform, err = ParsePlatform(platform); err != nil {
		return c, err
	}
	if c.ClientMsgID, err = ParseToken("client_msg_id", clientMsgID); err != nil {
		return c, err
	}
	if err := checkText("content", content, MaxContentBytes); err != nil {
		return c, err
	}
	if c.ChatType == ChatSingle && c.From == c.To {
		return c, invalid("invalid_to", "to: a one-to-one chat needs two different users")
	}
	c.Content = content
	return c, nil
}

// checkText refuses invalid UTF-8, NUL bytes and text over max bytes: such
// content cannot be shown or audited faithfully.
func checkText(field, s string, max int) error {
	if len(s) > max {
		return invalid("invalid_"+field, "%s: at most %d bytes", field, max)
	}
	if !utf8.ValidString(s) {
		return invalid("invalid_"+field, "%s: not valid UTF-8", field)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return invalid("invalid_"+field, "%s: NUL byte", field)
	}
	return nil
}

// CheckReasonText validates the free-text reason a recall may carry.
func CheckReasonText(s string) error {
	if err := checkText("reason", s, 512); err != nil {
		return err
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return invalid("invalid_reason", "reason: control characters are not allowed")
		}
	}
	return nil
}

// Sent is the event payload of c for message id.
func (c SendCommand) Sent(id MsgID) MessageSent {
	sum := sha256.Sum256([]byte(c.Content))
	return MessageSent{
		MsgID: id, ConversationID: ConversationID(c.ChatType, c.From, c.To),
		ChatType: c.ChatType, From: c.From, To: c.To, MsgType: c.Type,
		Content: c.Content, ContentSHA256: hex.EncodeToString(sum[:]),
		Platform: c.Platform, ClientMsgID: c.ClientMsgID,
	}
}

// SameSend reports whether a repeated send with the same client_msg_id is a
// retry of s (200, same msg_id) rather than a conflicting reuse (409).
func (c SendCommand) SameSend(s MessageSent) bool {
	sum := sha256.Sum256([]byte(c.Content))
	return s.From == c.From && s.To == c.To && s.ChatType == c.ChatType &&
		s.MsgType == c.Type && s.ContentSHA256 == hex.EncodeToString(sum[:])
}

// Attempt is a recall attempt already recorded on a message, kept so a
// retry with the same request_id gets the original outcome.
type Attempt struct {
	RequestID string
	Actor     UserID
	Decision  Decision
	At        Time
}

// Message is the state of one message, rebuilt by applying its events in
// stream order. The zero value is a message that does not exist, at
// version NoStream: the state before any event.
type Message struct {
	Exists     bool
	Sent       MessageSent
	SentAt     Time
	ReadBy     []UserID
	Recalled   bool
	RecalledAt Time
	RecalledBy UserID
	Expired    bool
	Attempts   []Attempt

	// next is the stream version the next event gets: 0 before any event,
	// so that the zero Message is at NoStream.
	next int64
}

// Version is the stream version of the last event applied: the version
// an append of the next one expects; NoStream (-1) when none was.
func (m Message) Version() int64 { return m.next - 1 }

// Apply folds one event of the message's stream into m.
func (m *Message) Apply(e Event) error {
	switch p := e.Data.(type) {
	case MessageSent:
		m.Exists, m.Sent, m.SentAt = true, p, e.OccurredAt
	case MessageRead:
		if !slices.Contains(m.ReadBy, p.Reader) {
			m.ReadBy = append(m.ReadBy, p.Reader)
		}
	case MessageRecalled:
		m.Recalled, m.RecalledAt, m.RecalledBy = true, e.OccurredAt, p.Actor
		m.Attempts = append(m.Attempts, p.attempt(e.OccurredAt))
	case RecallRejected:
		m.Attempts = append(m.Attempts, p.attempt(e.OccurredAt))
	case MessageExpired:
		m.Expired = true
	default:
		return fmt.Errorf("event %s: %s does not belong to a message stream", e.ID, e.Type())
	}
	m.next = e.StreamVersion + 1
	return nil
}

// RecordedAttempt is the recall attempt e records: e is a MessageRecalled
// or RecallRejected event.
func RecordedAttempt(e Event) (Attempt, error) {
	switch p := e.Data.(type) {
	case MessageRecalled:
		return p.attempt(e.OccurredAt), nil
	case RecallRejected:
		return p.attempt(e.OccurredAt), nil
	}
	return Attempt{}, fmt.Errorf("event %s: %s records no recall attempt", e.ID, e.Type())
}

// attempt is the accepted attempt p records, made at.
func (p MessageRecalled) attempt(at Time) Attempt {
	return Attempt{RequestID: p.RequestID, Actor: p.Actor, At: at, Decision: Decision{
		Recalled: true, ElapsedMs: p.ElapsedMs, WindowMs: p.WindowMs, PolicyVersion: p.PolicyVersion, ReadBy: p.ReadBy, Forced: p.Forced,
	}}
}

// attempt is the refused attempt p records, made at.
func (p RecallRejected) attempt(at Time) Attempt {
	return Attempt{RequestID: p.RequestID, Actor: p.Actor, At: at, Decision: Decision{
		Reason: p.Reason, ElapsedMs: p.ElapsedMs, WindowMs: p.WindowMs, PolicyVersion: p.PolicyVersion,
	}}
}

// Replay returns the attempt a retry with requestID by actor repeats, if any.
func (m Message) Replay(actor UserID, requestID string) (Attempt, bool) {
	if requestID == "" {
		return Attempt{}, false
	}
	for _, a := range m.Attempts {
		if a.RequestID == requestID && a.Actor == actor {
			return a, true
		}
	}
	return Attempt{}, false
}

// ExpiresAt is the instant after which the message is past retention under
// p: it expires strictly after SentAt+retention, so a window equal to the
// retention still lets the last millisecond recall.
func (m Message) ExpiresAt(p Policy) time.Time { return m.SentAt.Time().Add(p.MessageRetention()) }

func (m Message) pastRetention(p Policy, now time.Time) bool {
	return pastRetention(m.SentAt.Time(), p, now)
}

// pastRetention is the one definition of "past retention": strictly after
// sentAt + message_retention_s. Policy.RetainedSince agrees with it.
func pastRetention(sentAt time.Time, p Policy, now time.Time) bool {
	return now.After(sentAt.Add(p.MessageRetention()))
}

// readByRecipient reports whether anyone but the sender has read it.
func (m Message) readByRecipient() bool {
	for _, r := range m.ReadBy {
		if r != m.Sent.From {
			return true
		}
	}
	return false
}
