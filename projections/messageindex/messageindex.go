// Package messageindex finds a tenant's messages without scanning the
// log: by sender (the messages an erasure request covers), and every event
// about a conversation by position (what a conversation as seen at a time
// is replayed from). It also keeps the erasures not finished yet: those
// whose first pass a crash cut short, and those a legal hold deferred, so
// that a restart or a hold's release carries them out.
//
// It holds ids, positions and times only: never content.
package messageindex

import (
	"encoding/binary"
	"slices"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/codec"
	"github.com/recallledger/recall/projections"
)

// Name is the projection's name.
const Name = "message_index"

// Projection builds the index.
type Projection struct{}

func (Projection) Name() string { return Name }

// Keys, each under the tenant:
//
//	m <msg>                  → msgInfo: where a message is
//	s <from> 0 <pos>         → sent: a sender's messages, in log order
//	c <conv> 0 <pos>         → the event's time (ms): a conversation's events
//	r <erasure>              → an erasure whose first pass has not finished
//	d <erasure> 0 <msg>      → hold ids: a message a hold kept from an erasure
func key(kind byte, tenant string, parts ...string) []byte {
	k := append([]byte{kind, 0}, tenant...)
	for _, p := range parts {
		k = append(append(k, 0), p...)
	}
	return k
}

func posKey(kind byte, tenant, sub string, pos uint64) []byte {
	return binary.BigEndian.AppendUint64(append(key(kind, tenant, sub), 0), pos)
}

// msgInfo is what the index keeps of a message's send.
type msgInfo struct {
	Conv   string `json:"c"`
	From   string `json:"f"`
	SentAt int64  `json:"t"` // unix ms
	Pos    uint64 `json:"p"`
	// Keys are the ids of the data keys of its sealed copies (live, audit);
	// none for a send recorded before content protection.
	Keys []string `json:"k,omitempty"`
}

// keyIDs lists the data keys of a send's sealed copies.
func keyIDs(p domain.MessageSent) []string {
	var ids []string
	for _, c := range []*domain.SealedContent{p.ContentLive, p.ContentAudit} {
		if c != nil {
			ids = append(ids, c.KeyID)
		}
	}
	return ids
}

// Apply implements projections.Projection.
func (Projection) Apply(tx projections.Tx, e domain.Event) error {
	t := e.Tenant
	switch p := e.Data.(type) {
	case domain.MessageSent:
		info := msgInfo{Conv: p.ConversationID, From: string(p.From), SentAt: e.OccurredAt.UnixMilli(), Pos: e.Position, Keys: keyIDs(p)}
		if err := projections.SetJSON(tx, key('m', t, string(p.MsgID)), info); err != nil {
			return err
		}
		if err := projections.SetJSON(tx, posKey('s', t, string(p.From), e.Position), sent{Msg: string(p.MsgID), Conv: info.Conv, SentAt: info.SentAt, Keys: info.Keys}); err != nil {
			return err
		}
		return logConv(tx, t, info.Conv, e)
	case domain.MessageRead:
		return logMessage(tx, t, string(p.MsgID), e)
	case domain.MessageRecalled:
		return logMessage(tx, t, string(p.MsgID), e)
	case domain.MessageExpired:
		return logMessage(tx, t, string(p.MsgID), e)
	case domain.ErasureRequested:
		return tx.Set(key('r', t, p.ErasureID), nil)
	case domain.ContentErased:
		return erased(tx, t, p, e)
	}
	return nil
}

// erased logs an erasure's chunk with each conversation it touched and
// keeps what a hold deferred.
func erased(tx projections.Tx, t string, p domain.ContentErased, e domain.Event) error {
	for _, id := range p.Erased {
		if err := logMessage(tx, t, string(id), e); err != nil {
			return err
		}
		if err := tx.Delete(key('d', t, p.ErasureID, string(id))); err != nil {
			return err
		}
	}
	for _, h := range p.Held {
		if err := projections.SetJSON(tx, key('d', t, p.ErasureID, string(h.MsgID)), h.HoldIDs); err != nil {
			return err
		}
	}
	if p.Final {
		return tx.Delete(key('r', t, p.ErasureID))
	}
	return nil
}

func logMessage(tx projections.Tx, t, msg string, e domain.Event) error {
	var info msgInfo
	found, err := projections.GetJSON(tx, key('m', t, msg), &info)
	if err != nil || !found {
		return err
	}
	return logConv(tx, t, info.Conv, e)
}

func logConv(tx projections.Tx, t, conv string, e domain.Event) error {
	return tx.Set(posKey('c', t, conv, e.Position), binary.BigEndian.AppendUint64(nil, uint64(max(0, e.OccurredAt.UnixMilli()))))
}

// sent is a message in its sender's index.
type sent struct {
	Msg    string   `json:"m"`
	Conv   string   `json:"c"`
	SentAt int64    `json:"t"`
	Keys   []string `json:"k,omitempty"`
}

// Sent is one message as the index holds it: the position of its send,
// what a hold matches it on, and the ids of its content's data keys.
type Sent struct {
	Position uint64
	Ref      domain.ContentRef
	KeyIDs   []string
}

// BySender returns up to limit messages user sent, at positions after
// after and before before (0: no bound), in log order.
func BySender(store projections.Store, tenant domain.Tenant, user domain.UserID, after, before uint64, limit int) ([]Sent, error) {
	prefix := append(key('s', tenant.String(), string(user)), 0)
	var out []Sent
	var decodeErr error
	err := store.View(Name, func(tx projections.Tx) error {
		return tx.Scan(binary.BigEndian.AppendUint64(slices.Clone(prefix), after+1), projections.PrefixEnd(prefix), false, func(k, v []byte) bool {
			pos := binary.BigEndian.Uint64(k[len(prefix):])
			if before != 0 && pos >= before {
				return false
			}
			var s sent
			if decodeErr = codec.Unmarshal(v, &s); decodeErr != nil {
				return false
			}
			out = append(out, Sent{Position: pos, Ref: domain.ContentRef{Tenant: tenant, MsgID: domain.MsgID(s.Msg), From: user,
				ConversationID: s.Conv, SentAt: time.UnixMilli(s.SentAt).UTC()}, KeyIDs: s.Keys})
			return len(out) < limit
		})
	})
	if err == nil {
		err = decodeErr
	}
	return out, err
}

// Positions returns the positions of every event about the conversation
// that occurred at or before atMs (unix ms), in log order.
func Positions(store projections.Store, tenant, conv string, atMs int64) ([]uint64, error) {
	prefix := append(key('c', tenant, conv), 0)
	var out []uint64
	err := store.View(Name, func(tx projections.Tx) error {
		return tx.Scan(prefix, projections.PrefixEnd(prefix), false, func(k, v []byte) bool {
			if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) <= atMs {
				out = append(out, binary.BigEndian.Uint64(k[len(prefix):]))
			}
			return true
		})
	})
	return out, err
}

// Unfinished is the tenant's erasures that are not finished: first passes
// a crash cut short, and erasures a hold deferred; every tenant's when
// tenant is empty.
func Unfinished(store projections.Store, tenant string) ([]Erasure, error) {
	seen := map[Erasure]bool{}
	var out []Erasure
	err := store.View(Name, func(tx projections.Tx) error {
		for _, kind := range []byte{'r', 'd'} {
			prefix := []byte{kind, 0}
			if tenant != "" {
				prefix = append(key(kind, tenant), 0)
			}
			err := tx.Scan(prefix, projections.PrefixEnd(prefix), false, func(k, _ []byte) bool {
				parts := splitKey(k[2:])
				if len(parts) < 2 {
					return true
				}
				e := Erasure{Tenant: parts[0], ID: parts[1]}
				if !seen[e] {
					seen[e] = true
					out = append(out, e)
				}
				return true
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// Erasure names an erasure of a tenant.
type Erasure struct{ Tenant, ID string }

func splitKey(k []byte) []string {
	var parts []string
	for len(k) > 0 {
		i := slices.Index(k, 0)
		if i < 0 {
			return append(parts, string(k))
		}
		parts = append(parts, string(k[:i]))
		k = k[i+1:]
	}
	return parts
}

// Messages returns the messages ids names that the index holds, in the
// order given; ids it does not hold are left out.
func Messages(store projections.Store, tenant domain.Tenant, ids []domain.MsgID) ([]Sent, error) {
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = key('m', tenant.String(), string(id))
	}
	var out []Sent
	err := store.View(Name, func(tx projections.Tx) error {
		vals, err := tx.GetMany(keys)
		if err != nil {
			return err
		}
		for i, v := range vals {
			if v == nil {
				continue
			}
			var info msgInfo
			if err := codec.Unmarshal(v, &info); err != nil {
				return err
			}
			out = append(out, Sent{Position: info.Pos, Ref: domain.ContentRef{Tenant: tenant, MsgID: ids[i], From: domain.UserID(info.From),
				ConversationID: info.Conv, SentAt: time.UnixMilli(info.SentAt).UTC()}, KeyIDs: info.Keys})
		}
		return nil
	})
	return out, err
}
