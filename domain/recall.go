package domain

import (
	"slices"
	"time"
)

// RecallCommand is a validated request to recall a message.
type RecallCommand struct {
	MsgID      MsgID
	Actor      UserID
	Role       ActorRole
	Platform   string
	ReasonText string
	RequestID  string
	// To, when set, names the recipient the caller believes the message
	// went to (Easemob's batch recall); rule 5 checks it.
	To UserID
	// Force asks to recall past the recall window (Easemob's msg_recall
	// force). Only an admin's forced recall skips rule 8, and nothing
	// else; a member's force is ignored.
	Force bool
	// RequestedBy names the person behind a tenant admin's recall when a
	// named operator asked for it in the console ("operator:alice"); the
	// event records it beside the actor. Empty for API tokens.
	RequestedBy string
}

// NewRecallCommand validates a recall request's fields.
func NewRecallCommand(msgID, actor, role, platform, reason, requestID string) (RecallCommand, error) {
	var c RecallCommand
	var err error
	if c.MsgID, err = ParseMsgID(msgID); err != nil {
		return c, err
	}
	if c.Actor, err = ParseUserID("actor", actor); err != nil {
		return c, err
	}
	if c.Role, err = ParseActorRole(role); err != nil {
		return c, err
	}
	if c.Platform, err = ParsePlatform(platform); err != nil {
		return c, err
	}
	if err = CheckReasonText(reason); err != nil {
		return c, err
	}
	c.ReasonText = reason
	if c.RequestID, err = ParseToken("request_id", requestID); err != nil {
		return c, err
	}
	return c, nil
}

// Decision is the outcome of a recall attempt.
type Decision struct {
	Recalled      bool
	Reason        Reason // empty when Recalled
	ElapsedMs     int64
	WindowMs      int64
	PolicyVersion int64
	ReadBy        []UserID // exposure: who had read it, when recalled
	// Forced is a recall an admin forced: rule 8 was not applied.
	Forced bool
}

// DecideRecall applies the rules of recall, in order, to cmd against the
// message state m under policy p at the server's time now. The first rule
// that fails is the outcome. It returns the decision and the payload that
// records it, accepted (MessageRecalled) or refused (RecallRejected):
// every attempt is exactly one event.
func DecideRecall(cmd RecallCommand, m Message, p Policy, now time.Time) (Decision, Payload) {
	d := Decision{PolicyVersion: p.Version}
	admin := cmd.Role == ActorTenantAdmin ||
		(m.Sent.ChatType.IsGroup() && (cmd.Role == ActorGroupOwner || cmd.Role == ActorGroupAdmin))
	forced := cmd.Force && admin
	if m.Exists {
		d.ElapsedMs = max(0, now.Sub(m.SentAt.Time()).Milliseconds())
		d.WindowMs = p.SenderWindow().Milliseconds()
		if admin {
			d.WindowMs = p.AdminWindow().Milliseconds()
		}
	}

	switch {
	case !p.RecallEnabled:
		d.Reason = ReasonServiceDisabled
	case !m.Exists:
		d.Reason = ReasonNotFound
	case m.Expired || m.pastRetention(p, now):
		d.Reason = ReasonExpired
	case m.Recalled:
		d.Reason = ReasonAlreadyRecalled
	case cmd.To != "" && cmd.To != m.Sent.To:
		d.Reason = ReasonRecipientMismatch
	case p.Denied(cmd.Actor) || !(admin || cmd.Actor == m.Sent.From):
		d.Reason = ReasonForbidden
	case !p.Recallable(m.Sent.MsgType):
		d.Reason = ReasonTypeNotRecallable
	case d.ElapsedMs > d.WindowMs && !forced:
		d.Reason = ReasonExceedTimeLimit
	case p.BlockAfterRead && m.readByRecipient():
		d.Reason = ReasonReadByRecipient
	default:
		d.Recalled, d.Forced = true, forced
		d.ReadBy = append([]UserID{}, m.ReadBy...)
		return d, MessageRecalled{
			MsgID: cmd.MsgID, Actor: cmd.Actor, ActorRole: cmd.Role, Platform: cmd.Platform,
			ReasonText: cmd.ReasonText, RequestID: cmd.RequestID, ElapsedMs: d.ElapsedMs,
			WindowMs: d.WindowMs, PolicyVersion: d.PolicyVersion, ReadBy: d.ReadBy, Forced: forced, RequestedBy: cmd.RequestedBy,
			ShredsAuditContent: !p.AuditKeepsRecalledContent && m.Sent.Sealed(),
		}
	}
	return d, RecallRejected{
		MsgID: cmd.MsgID, Actor: cmd.Actor, ActorRole: cmd.Role, Platform: cmd.Platform,
		Reason: d.Reason, ReasonText: cmd.ReasonText, RequestID: cmd.RequestID,
		ElapsedMs: d.ElapsedMs, WindowMs: d.WindowMs, PolicyVersion: d.PolicyVersion, RequestedBy: cmd.RequestedBy,
	}
}

// DecideExpire returns the MessageExpired payload when m has passed its
// retention under p at now and is not expired yet; a message never expires
// twice.
func DecideExpire(m Message, p Policy, now time.Time) (MessageExpired, bool) {
	if !m.Exists || m.Expired || !m.pastRetention(p, now) {
		return MessageExpired{}, false
	}
	return MessageExpired{MsgID: m.Sent.MsgID, RetentionS: p.MessageRetentionS}, true
}

// DecideExpirePurged decides the expiry of a message whose send its stream
// no longer holds: the store's retention purge removed it before the
// message expired. m is what the stream still holds (perhaps reads or
// recall attempts, perhaps nothing) and sentAt is when the caller saw the
// send. Past retention it still expires, once, so that every read model
// built from the log drops the message; a stream that holds the send or
// an expiry is DecideExpire's to decide.
func DecideExpirePurged(m Message, id MsgID, sentAt time.Time, p Policy, now time.Time) (MessageExpired, bool) {
	if m.Exists || m.Expired || !pastRetention(sentAt, p, now) {
		return MessageExpired{}, false
	}
	return MessageExpired{MsgID: id, RetentionS: p.MessageRetentionS}, true
}

// ReadCommand is a validated read receipt.
type ReadCommand struct {
	MsgID    MsgID
	Reader   UserID
	Platform string
}

// NewReadCommand validates a read receipt's fields.
func NewReadCommand(msgID, reader, platform string) (ReadCommand, error) {
	var c ReadCommand
	var err error
	if c.MsgID, err = ParseMsgID(msgID); err != nil {
		return c, err
	}
	if c.Reader, err = ParseUserID("reader", reader); err != nil {
		return c, err
	}
	if c.Platform, err = ParsePlatform(platform); err != nil {
		return c, err
	}
	return c, nil
}

// DecideRead records the first read of m by the reader (a MessageRead);
// nothing for a repeat, the sender's own read, or a message no longer
// shown (recalled or expired). Reading a message that does not exist, or
// a one-to-one message by a stranger, is refused with an error.
func DecideRead(cmd ReadCommand, m Message) ([]Payload, error) {
	if !m.Exists {
		return nil, &NotFoundError{What: "message " + string(cmd.MsgID)}
	}
	if m.Sent.ChatType == ChatSingle && cmd.Reader != m.Sent.To && cmd.Reader != m.Sent.From {
		return nil, invalid("not_a_recipient", "reader %s is not in this one-to-one chat", cmd.Reader)
	}
	if m.Expired || m.Recalled || cmd.Reader == m.Sent.From || slices.Contains(m.ReadBy, cmd.Reader) {
		return nil, nil
	}
	return []Payload{MessageRead{MsgID: cmd.MsgID, Reader: cmd.Reader, Platform: cmd.Platform}}, nil
}
