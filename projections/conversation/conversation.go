// Package conversation is the live conversation view: each conversation's
// messages in order, as each participant sees them — recalled messages
// replaced by a notice in the viewer's language, expired ones gone — and a
// per-conversation change log that live clients resume from.
package conversation

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/codec"
	"github.com/recallledger/recall/projections"
)

// Name is the projection's name.
const Name = "conversations"

// Projection builds the conversation view. Live, when set, is told every
// update it logs, for the live streams (catalog.Runners sets one; a
// rebuild needs none).
type Projection struct{ Live *Live }

func (Projection) Name() string { return Name }

// record is a message as stored; the view per viewer is made at read time.
type record struct {
	MsgID    string      `json:"msg_id"`
	From     string      `json:"from"`
	To       string      `json:"to"`
	ChatType string      `json:"chat_type"`
	Type     string      `json:"type"`
	SentAt   domain.Time `json:"sent_at"`
	Content  string      `json:"content,omitempty"`
	// Sealed is the live copy of sealed content (Content is then ""):
	// opened at read time, gone with the recall or once its key is.
	Sealed     *domain.SealedContent `json:"sealed,omitempty"`
	Recalled   bool                  `json:"recalled,omitempty"`
	RecalledBy string                `json:"recalled_by,omitempty"`
	RecalledAt domain.Time           `json:"recalled_at"`
	// ReadBy is who had read the message when reads were kept in its
	// record; a read is now a key of its own (readers.go), so that a
	// message read by a thousand members is not rewritten a thousand times.
	ReadBy []string `json:"read_by"`
	// Erased is a message whose content an erasure request destroyed.
	Erased bool `json:"erased,omitempty"`
	// Log is the position of every update logged about the message but
	// its reads (whose keys hold theirs), so its expiry can take them out
	// of the change log too.
	Log []uint64 `json:"log,omitempty"`
}

// Update is one change to a conversation, as pushed to live clients. ID is
// the event's position: a client that reconnects with Last-Event-ID gets
// every later update.
type Update struct {
	ID             uint64      `json:"id"`
	Kind           string      `json:"kind"` // sent, read, recalled, expired
	ConversationID string      `json:"conversation_id"`
	MsgID          string      `json:"msg_id"`
	Actor          string      `json:"actor"`
	At             domain.Time `json:"at"`
}

// logged is an update as the change log stores it: with its message's
// send time, so the stream leaves out a message past retention without
// reading the message's record. Updates logged before SentAt existed have
// it zero.
type logged struct {
	Update
	SentAt domain.Time `json:"sent_at"`
}

func key(kind byte, tenant, conv string, pos uint64) []byte {
	k := append(append(append(append([]byte{kind, 0}, tenant...), 0), conv...), 0)
	return binary.BigEndian.AppendUint64(k, pos)
}

func convPrefix(kind byte, tenant, conv string) []byte {
	return append(append(append(append([]byte{kind, 0}, tenant...), 0), conv...), 0)
}

func pointerKey(tenant, msg string) []byte {
	return append(append(append([]byte("m\x00"), tenant...), 0), msg...)
}

// pointer is where a message's record lives.
type pointer struct {
	Conv string `json:"c"`
	Pos  uint64 `json:"p"`
}

// Apply implements projections.Projection.
func (p Projection) Apply(tx projections.Tx, e domain.Event) error {
	live := p.Live
	t := e.Tenant
	switch p := e.Data.(type) {
	case domain.MessageSent:
		r := record{MsgID: string(p.MsgID), From: string(p.From), To: string(p.To), ChatType: string(p.ChatType),
			Type: string(p.MsgType), SentAt: e.OccurredAt, Content: p.Content, ReadBy: []string{}, Log: []uint64{e.Position}}
		if p.Content == "" {
			// sealed in the log; a worker fed by the bus under plaintext
			// gets the content decrypted, and keeps that
			r.Sealed = p.ContentLive
		}
		if err := countSent(tx, t, p.ConversationID, r); err != nil {
			return err
		}
		if err := projections.SetJSON(tx, key('c', t, p.ConversationID, e.Position), r); err != nil {
			return err
		}
		if err := projections.SetJSON(tx, pointerKey(t, r.MsgID), pointer{Conv: p.ConversationID, Pos: e.Position}); err != nil {
			return err
		}
		return logUpdate(tx, live, t, Update{ID: e.Position, Kind: "sent", ConversationID: p.ConversationID, MsgID: r.MsgID, Actor: r.From, At: e.OccurredAt}, r.SentAt)
	case domain.MessageRead:
		return read(tx, live, t, string(p.MsgID), string(p.Reader), e)
	case domain.MessageRecalled:
		return change(tx, live, t, string(p.MsgID), func(r *record, readBy []string) (string, string, tallyChange) {
			before := *r
			r.Recalled, r.RecalledBy, r.RecalledAt, r.Content, r.Sealed = true, string(p.Actor), e.OccurredAt, "", nil
			return "recalled", string(p.Actor), func(tl *tally) { tl.hide(before, readBy) }
		}, e)
	case domain.MessageExpired:
		return expire(tx, live, t, string(p.MsgID), e)
	case domain.ContentErased:
		// an erasure request destroyed the content: the message stays in
		// the view, its content does not
		for _, id := range p.Erased {
			if err := erase(tx, t, string(id)); err != nil {
				return err
			}
		}
	}
	return nil
}

// erase drops a message's content from its record; nothing is logged for
// live clients (the message is still there, as it was, without content).
func erase(tx projections.Tx, tenant, msg string) error {
	ptr, r, found, err := find(tx, tenant, msg)
	if err != nil || !found || r.Erased {
		return err
	}
	// the sealed copy goes too: the erasure destroyed its key
	r.Content, r.Sealed, r.Erased = "", nil, true
	return projections.SetJSON(tx, key('c', tenant, ptr.Conv, ptr.Pos), r)
}

// expire takes a message out of the view: its record, its pointer and
// every update logged about it, so that nothing of it is served again;
// what stays is the "expired" update that tells live clients to drop it.
func expire(tx projections.Tx, live *Live, tenant, msg string, e domain.Event) error {
	ptr, r, found, err := find(tx, tenant, msg)
	if err != nil || !found {
		return err
	}
	readBy, readAt, err := readers(tx, tenant, ptr.Conv, ptr.Pos, r)
	if err != nil {
		return err
	}
	if err := countChange(tx, tenant, ptr.Conv, func(tl *tally) { tl.hide(r, readBy) }); err != nil {
		return err
	}
	for _, reader := range readBy[len(r.ReadBy):] {
		if err := tx.Delete(readerKey(tenant, ptr.Conv, ptr.Pos, reader)); err != nil {
			return err
		}
	}
	// a record written before Log existed still has its "sent" update at
	// the send's position
	for _, pos := range append(append(r.Log, readAt...), ptr.Pos) {
		if err := tx.Delete(key('u', tenant, ptr.Conv, pos)); err != nil {
			return err
		}
	}
	if err := tx.Delete(key('c', tenant, ptr.Conv, ptr.Pos)); err != nil {
		return err
	}
	if err := tx.Delete(pointerKey(tenant, msg)); err != nil {
		return err
	}
	return logUpdate(tx, live, tenant, Update{ID: e.Position, Kind: "expired", ConversationID: ptr.Conv, MsgID: msg, Actor: "system", At: e.OccurredAt}, r.SentAt)
}

// change rewrites a message's record with fn and logs the update it names;
// the tally change fn returns (nil: nothing changed) is applied to the
// conversation's counts.
func change(tx projections.Tx, live *Live, tenant, msg string, fn func(r *record, readBy []string) (kind, actor string, counts tallyChange), e domain.Event) error {
	ptr, r, found, err := find(tx, tenant, msg)
	if err != nil || !found {
		return err
	}
	readBy, _, err := readers(tx, tenant, ptr.Conv, ptr.Pos, r)
	if err != nil {
		return err
	}
	kind, actor, counts := fn(&r, readBy)
	if counts == nil {
		return nil
	}
	if err := countChange(tx, tenant, ptr.Conv, counts); err != nil {
		return err
	}
	r.Log = append(r.Log, e.Position)
	if err := projections.SetJSON(tx, key('c', tenant, ptr.Conv, ptr.Pos), r); err != nil {
		return err
	}
	return logUpdate(tx, live, tenant, Update{ID: e.Position, Kind: kind, ConversationID: ptr.Conv, MsgID: msg, Actor: actor, At: e.OccurredAt}, r.SentAt)
}

func logUpdate(tx projections.Tx, live *Live, tenant string, u Update, sentAt domain.Time) error {
	if err := projections.SetJSON(tx, key('u', tenant, u.ConversationID, u.ID), logged{Update: u, SentAt: sentAt}); err != nil {
		return err
	}
	live.logged(tenant, u, sentAt)
	return nil
}

// Message is one message as a viewer sees it.
type Message struct {
	MsgID   string      `json:"msg_id"`
	From    string      `json:"from"`
	SentAt  domain.Time `json:"sent_at"`
	Status  string      `json:"status"` // visible or recalled
	Content *string     `json:"content,omitempty"`
	// ContentRedacted says why a visible message has no content: its
	// key was destroyed ("shredded") or is not here (domain.Content*).
	ContentRedacted string   `json:"content_redacted,omitempty"`
	Notice          string   `json:"notice,omitempty"`
	ReadBy          []string `json:"read_by"`
	// ContentErased is a visible message whose content an erasure
	// request destroyed: it has no content.
	ContentErased bool `json:"content_erased,omitempty"`
	// Sealed is the sealed live copy a reader opens (Open) before the
	// message is shown; never served.
	Sealed *domain.SealedContent `json:"-"`
}

// View is a page of a conversation as a viewer sees it.
type View struct {
	ConversationID string    `json:"conversation_id"`
	Unread         int       `json:"unread"`
	Messages       []Message `json:"messages"`
	NextCursor     string    `json:"next_cursor,omitempty"`
}

// Locales lists the languages of recall notices.
var Locales = []string{"en", "zh-CN", "ja"}

// Notice is the recall notice in locale, for a viewer: "You recalled a
// message" when the viewer recalled it, "<actor> recalled a message" for
// everyone else.
func Notice(locale, actor, viewer string) string {
	self := actor == viewer
	switch locale {
	case "zh-CN":
		if self {
			return "你撤回了一条消息"
		}
		return actor + " 撤回了一条消息"
	case "ja":
		if self {
			return "メッセージの送信を取り消しました"
		}
		return actor + "がメッセージの送信を取り消しました"
	}
	if self {
		return "You recalled a message"
	}
	return actor + " recalled a message"
}

// Query returns the conversation as viewer sees it: up to limit messages
// after cursor, oldest first, and the viewer's unread count (visible
// messages from others that the viewer has not read; a recall of an unread
// message lowers it).
//
// It costs the page, not the conversation: the unread count comes from
// the counts the projection keeps (tally.go), and the page is read from
// the cursor on.
//
// Messages sent before retainedSince (domain.Policy.RetainedSince: past
// the tenant's message retention) are left out even while their
// MessageExpired is not recorded yet — the expiry scheduler may be behind
// or stopped — so the view never serves a message past its retention, nor
// counts it unread.
func Query(store projections.Store, tenant, conv, viewer, locale, cursor string, limit int, retainedSince time.Time) (View, error) {
	v := View{ConversationID: conv, Messages: []Message{}}
	after := uint64(0)
	if cursor != "" {
		var err error
		if after, err = strconv.ParseUint(cursor, 10, 64); err != nil {
			return v, &domain.InvalidError{Code: "invalid_cursor", Msg: "cursor: not one this server gave"}
		}
	}
	prefix := convPrefix('c', tenant, conv)
	var decodeErr error
	var lastPos uint64
	err := store.View(Name, func(tx projections.Tx) error {
		var err error
		if v.Unread, err = unread(tx, tenant, conv, viewer, retainedSince); err != nil {
			return err
		}
		from := prefix
		if after > 0 {
			from = key('c', tenant, conv, after+1)
		}
		return tx.Scan(from, projections.PrefixEnd(prefix), false, func(k, b []byte) bool {
			var r record
			if decodeErr = codec.Unmarshal(b, &r); decodeErr != nil {
				return false
			}
			if r.SentAt.Time().Before(retainedSince) {
				return true
			}
			if len(v.Messages) == limit {
				v.NextCursor = strconv.FormatUint(lastPos, 10) // more follow
				return false
			}
			pos := binary.BigEndian.Uint64(k[len(prefix):])
			var readBy []string
			if readBy, _, decodeErr = readers(tx, tenant, conv, pos, r); decodeErr != nil {
				return false
			}
			m := Message{MsgID: r.MsgID, From: r.From, SentAt: r.SentAt, Status: "visible", ReadBy: readBy}
			switch {
			case r.Recalled:
				m.Status, m.Notice = "recalled", Notice(locale, r.RecalledBy, viewer)
			case r.Erased:
				m.ContentErased = true
			case r.Sealed != nil:
				m.Sealed = r.Sealed
			default:
				c := r.Content
				m.Content = &c
			}
			v.Messages = append(v.Messages, m)
			lastPos = pos
			return true
		})
	})
	if err == nil {
		err = decodeErr
	}
	if err != nil {
		return View{}, fmt.Errorf("conversation %s: %w", conv, err)
	}
	return v, nil
}

// Open opens the sealed content of v's messages through o (domain.Reveal):
// each gets its content, or none and the marker saying why. Only a failing
// key store or KEK provider fails it.
func Open(ctx context.Context, o domain.ContentOpener, t domain.Tenant, v *View) error {
	for i := range v.Messages {
		m := &v.Messages[i]
		if m.Sealed == nil {
			continue
		}
		c, marker, err := domain.Reveal(ctx, o, t, domain.MsgID(m.MsgID), domain.PurposeLive, *m.Sealed)
		if err != nil {
			return fmt.Errorf("conversation %s: %w", v.ConversationID, err)
		}
		if marker != "" {
			m.ContentRedacted = string(marker)
		} else {
			m.Content = &c
		}
		m.Sealed = nil
	}
	return nil
}

// Updates calls fn for each update of the conversation after id, in order.
// As Query does, it leaves out updates about a message sent before
// retainedSince, or no longer in the view; an "expired" update is always
// told, so that a live client drops the message.
func Updates(store projections.Store, tenant, conv string, after uint64, retainedSince time.Time, fn func(Update) error) error {
	prefix := convPrefix('u', tenant, conv)
	var cbErr error
	err := store.View(Name, func(tx projections.Tx) error {
		return tx.Scan(binary.BigEndian.AppendUint64(append([]byte{}, prefix...), after+1), projections.PrefixEnd(prefix), false, func(_, b []byte) bool {
			var l logged
			if cbErr = codec.Unmarshal(b, &l); cbErr != nil {
				return false
			}
			var shown bool
			if shown, cbErr = retained(tx, tenant, l, retainedSince); cbErr != nil {
				return false
			}
			if shown {
				cbErr = fn(l.Update)
			}
			return cbErr == nil
		})
	})
	if err != nil {
		return err
	}
	return cbErr
}

// retained reports whether an update may be told: it is an expiry, or its
// message was sent at or after retainedSince and is still in the view.
func retained(tx projections.Tx, tenant string, l logged, retainedSince time.Time) (bool, error) {
	if l.Kind == "expired" {
		return true, nil
	}
	if !l.SentAt.IsZero() {
		// the view forgets an expired message's updates, so the send time
		// is all that needs checking
		return !l.SentAt.Time().Before(retainedSince), nil
	}
	// logged before updates carried the send time: ask the record
	_, r, found, err := find(tx, tenant, l.MsgID)
	if err != nil || !found {
		return false, err
	}
	return !r.SentAt.Time().Before(retainedSince), nil
}

// find reads where a message's record lives and the record; found is
// false when the view does not hold the message (the two are written and
// deleted together).
func find(tx projections.Tx, tenant, msg string) (ptr pointer, r record, found bool, err error) {
	if found, err = projections.GetJSON(tx, pointerKey(tenant, msg), &ptr); err != nil || !found {
		return ptr, r, false, err
	}
	found, err = projections.GetJSON(tx, key('c', tenant, ptr.Conv, ptr.Pos), &r)
	return ptr, r, found, err
}
