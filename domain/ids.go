package domain

import (
	"fmt"
	"strings"
)

// Tenant names one enterprise application: an org and an app, as Easemob
// names them. Build it with ParseTenant or NewTenant.
type Tenant struct {
	org, app string
}

// NewTenant validates org and app: 1–64 characters of letters, digits, '-'
// and '_', starting with a letter or digit.
func NewTenant(org, app string) (Tenant, error) {
	if !validName(org) {
		return Tenant{}, invalid("invalid_tenant", "org %q: want 1-64 letters, digits, '-' or '_'", org)
	}
	if !validName(app) {
		return Tenant{}, invalid("invalid_tenant", "app %q: want 1-64 letters, digits, '-' or '_'", app)
	}
	return Tenant{org: org, app: app}, nil
}

// ParseTenant reads "org/app".
func ParseTenant(s string) (Tenant, error) {
	org, app, ok := strings.Cut(s, "/")
	if !ok {
		return Tenant{}, invalid("invalid_tenant", "tenant %q: want ORG/APP", s)
	}
	return NewTenant(org, app)
}

func (t Tenant) Org() string    { return t.org }
func (t Tenant) App() string    { return t.app }
func (t Tenant) String() string { return t.org + "/" + t.app }
func (t Tenant) IsZero() bool   { return t.org == "" }

// MessageStream is the stream holding one message's life. The category
// (the part before the first '-') is "message", so EventStoreDB's category
// projections group every message stream together.
func MessageStream(t Tenant, id MsgID) string { return "message-" + t.String() + "." + string(id) }

// TenantStream holds a tenant's policy changes.
func TenantStream(t Tenant) string { return "tenant-" + t.String() }

// RecallStream holds recall attempts on messages that do not exist: they
// are facts for the reports, but must not create a message stream.
func RecallStream(t Tenant) string { return "recall-" + t.String() }

func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

// MsgID identifies a message within a tenant: 1–64 characters of letters,
// digits, '-' and '_' (server-made ids are UUIDs; Easemob's are decimal).
type MsgID string

// ParseMsgID validates s as a message id.
func ParseMsgID(s string) (MsgID, error) {
	if !validName(s) {
		return "", invalid("invalid_msg_id", "msg_id %q: want 1-64 letters, digits, '-' or '_'", s)
	}
	return MsgID(s), nil
}

// UserID names a user, group or chat room of the IM system: 1–64 characters
// of letters, digits and "_-.@", as IM user names allow.
type UserID string

// ParseUserID validates s as a user id; field names the JSON field for the
// error message.
func ParseUserID(field, s string) (UserID, error) {
	if len(s) == 0 || len(s) > 64 {
		return "", invalid("invalid_"+field, "%s: want 1-64 characters, got %d", field, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_' || c == '-' || c == '.' || c == '@':
		default:
			return "", invalid("invalid_"+field, "%s %q: want letters, digits or _-.@", field, s)
		}
	}
	return UserID(s), nil
}

// ChatType is Easemob's chat type.
type ChatType string

const (
	ChatSingle ChatType = "chat"
	ChatGroup  ChatType = "groupchat"
	ChatRoom   ChatType = "chatroom"
)

// ParseChatType validates s.
func ParseChatType(s string) (ChatType, error) {
	switch ChatType(s) {
	case ChatSingle, ChatGroup, ChatRoom:
		return ChatType(s), nil
	}
	return "", invalid("invalid_chat_type", "chat_type %q: want chat, groupchat or chatroom", s)
}

// IsGroup reports whether the chat has many members, and so group owners
// and admins.
func (c ChatType) IsGroup() bool { return c == ChatGroup || c == ChatRoom }

// ConversationID names the conversation a message belongs to. A one-to-one
// chat has one id whichever side sends: the two users in byte order.
func ConversationID(chat ChatType, from, to UserID) string {
	if chat != ChatSingle {
		return string(chat) + ":" + string(to)
	}
	a, b := from, to
	if b < a {
		a, b = b, a
	}
	return "chat:" + string(a) + ":" + string(b)
}

// ParseConversationID validates a conversation id from a URL or a filter
// and returns its canonical form: the id sends record. A one-to-one
// conversation may be named in either order (chat:bob:alice); it is
// returned as ConversationID would make it (chat:alice:bob), so every
// lookup by conversation finds the same one.
func ParseConversationID(s string) (string, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		return "", invalid("invalid_conversation_id", "conversation_id %q: want chat:A:B, groupchat:G or chatroom:R", s)
	}
	switch ChatType(kind) {
	case ChatSingle:
		a, b, ok := strings.Cut(rest, ":")
		if !ok {
			return "", invalid("invalid_conversation_id", "conversation_id %q: want chat:A:B", s)
		}
		ua, err := ParseUserID("conversation_id", a)
		if err != nil {
			return "", invalid("invalid_conversation_id", "conversation_id %q: %v", s, err)
		}
		ub, err := ParseUserID("conversation_id", b)
		if err != nil {
			return "", invalid("invalid_conversation_id", "conversation_id %q: %v", s, err)
		}
		if ua == ub {
			return "", invalid("invalid_conversation_id", "conversation_id %q: a one-to-one chat needs two different users", s)
		}
		return ConversationID(ChatSingle, ua, ub), nil
	case ChatGroup, ChatRoom:
		g, err := ParseUserID("conversation_id", rest)
		if err != nil {
			return "", invalid("invalid_conversation_id", "conversation_id %q: %v", s, err)
		}
		return ConversationID(ChatType(kind), "", g), nil
	}
	return "", invalid("invalid_conversation_id", "conversation_id %q: unknown kind %q", s, kind)
}

// MessageType is the kind of content. Money never comes back: red packets
// and transfers are not recallable, whatever the policy says.
type MessageType string

var messageTypes = map[MessageType]bool{
	"txt": true, "img": true, "loc": true, "audio": true, "video": true,
	"file": true, "cmd": true, "custom": true, "red_packet": true, "transfer": true,
}

// neverRecallable types are refused by rule 7 whatever the policy lists.
var neverRecallable = map[MessageType]bool{"red_packet": true, "transfer": true}

// ParseMessageType validates s.
func ParseMessageType(s string) (MessageType, error) {
	if !messageTypes[MessageType(s)] {
		return "", invalid("invalid_type", "type %q: want one of txt, img, loc, audio, video, file, cmd, custom, red_packet, transfer", s)
	}
	return MessageType(s), nil
}

// ParsePlatform validates a client platform name (ios, android, web, …):
// 1–32 lowercase letters, digits, '-' or '_'. Empty means "unknown".
func ParsePlatform(s string) (string, error) {
	if s == "" {
		return "unknown", nil
	}
	if len(s) > 32 {
		return "", invalid("invalid_platform", "platform: at most 32 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", invalid("invalid_platform", "platform %q: want lowercase letters, digits, '-' or '_'", s)
		}
	}
	return s, nil
}

// ParseToken validates an idempotency key such as client_msg_id or
// request_id: up to 128 printable ASCII characters.
func ParseToken(field, s string) (string, error) {
	if len(s) > 128 {
		return "", invalid("invalid_"+field, "%s: at most 128 characters", field)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return "", invalid("invalid_"+field, "%s: printable ASCII only", field)
		}
	}
	return s, nil
}

func invalid(code, format string, args ...any) error {
	return &InvalidError{Code: code, Msg: fmt.Sprintf(format, args...)}
}
