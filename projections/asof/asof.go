// Package asof rebuilds a conversation exactly as one viewer saw it at an
// instant, for an auditor: which messages, which recall notices, the
// unread count and the read receipts, at that time. It replays the
// conversation's events (found by the message index, not by scanning the
// log) through the conversation view's own Apply and Query, into a
// read model held in memory for the one request: the live view's storage
// plays no part, so the two cannot drift apart.
//
// Content is shown only where it still exists now: a message whose
// content a recall, an expiry or an erasure destroyed since shows none
// (content_gone says which), even at an instant before, unless a legal
// hold keeps the content of a recall or an expiry. Sealed content is
// opened from its live copy, as the viewer read it: once its key is
// destroyed it reads as content_redacted ("shredded"), never an error.
package asof

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/conversation"
	"github.com/recallledger/recall/projections/messageindex"
)

// Message is a message as the viewer saw it then. ContentGone says why
// content seen then is not shown now: "recalled", "expired" or "erased".
type Message struct {
	conversation.Message
	ContentGone string `json:"content_gone,omitempty"`
}

// View is the conversation as the viewer saw it at AsOf.
type View struct {
	ConversationID string      `json:"conversation_id"`
	Viewer         string      `json:"viewer"`
	AsOf           domain.Time `json:"as_of"`
	Unread         int         `json:"unread"`
	Messages       []Message   `json:"messages"`
	NextCursor     string      `json:"next_cursor,omitempty"`
	// Events is how many of the conversation's events were replayed.
	Events int `json:"events_replayed"`
}

// Request names the view asked for.
type Request struct {
	Tenant         domain.Tenant
	ConversationID string
	Viewer         string
	Locale         string
	Cursor         string
	Limit          int
	At             time.Time
	// Retention is the tenant's message retention: a message sent more
	// than that before At was no longer shown then.
	Retention time.Duration
}

// Build replays the conversation's events from log and returns the view
// at req.At. opener opens sealed content (nil: it reads as
// key_unavailable); holds decides whether a hold keeps the content of a
// message recalled or expired since.
func Build(ctx context.Context, log domain.EventStore, index projections.Store, opener domain.ContentOpener, holds domain.HoldChecker, req Request) (View, error) {
	tenant := req.Tenant.String()
	positions, err := messageindex.Positions(index, tenant, req.ConversationID, math.MaxInt64)
	if err != nil {
		return View{}, fmt.Errorf("as_of %s: %w", req.ConversationID, err)
	}
	then, now := newMemStore(), newMemStore()
	at := domain.NewTime(req.At)
	replayed := 0
	for _, pos := range positions {
		evs, err := log.ReadAll(ctx, pos, tenant, 1)
		if err != nil {
			return View{}, fmt.Errorf("as_of %s: read %d: %w", req.ConversationID, pos, err)
		}
		if len(evs) == 0 || evs[0].Position != pos {
			continue // purged by audit retention: the view at that time is gone with it
		}
		e := evs[0]
		if err := apply(now, e); err != nil {
			return View{}, err
		}
		if !at.Before(e.OccurredAt) {
			if err := apply(then, e); err != nil {
				return View{}, err
			}
			replayed++
		}
	}
	seen, err := conversation.Query(then, tenant, req.ConversationID, req.Viewer, req.Locale, req.Cursor, req.Limit, req.At.Add(-req.Retention))
	if err == nil {
		err = conversation.Open(ctx, opener, req.Tenant, &seen)
	}
	if err != nil {
		return View{}, err
	}
	current, err := currentState(now, tenant, req.ConversationID, req.Viewer)
	if err != nil {
		return View{}, err
	}
	v := View{ConversationID: req.ConversationID, Viewer: req.Viewer, AsOf: at, Unread: seen.Unread, NextCursor: seen.NextCursor,
		Messages: make([]Message, len(seen.Messages)), Events: replayed}
	for i, m := range seen.Messages {
		v.Messages[i] = Message{Message: m}
		if m.Content == nil && m.ContentRedacted == "" {
			continue // recalled, or erased, by then
		}
		gone, inView := current[m.MsgID]
		if !inView {
			gone = "expired"
		}
		if m.Content == nil {
			// its key is destroyed (content_redacted says so): say why
			v.Messages[i].ContentGone = gone
			continue
		}
		if gone == "recalled" || gone == "expired" {
			ids, err := holds.Held(ctx, domain.ContentRef{Tenant: req.Tenant, MsgID: domain.MsgID(m.MsgID), From: domain.UserID(m.From),
				ConversationID: req.ConversationID, SentAt: m.SentAt.Time()})
			if err != nil {
				return View{}, err
			}
			if len(ids) > 0 {
				gone = "" // a hold keeps it
			}
		}
		if gone != "" {
			v.Messages[i].Content, v.Messages[i].ContentGone = nil, gone
		}
	}
	return v, nil
}

func apply(store *memStore, e domain.Event) error {
	return store.Update(conversation.Name, func(tx projections.Tx) error {
		return conversation.Projection{}.Apply(tx, e)
	})
}

// currentState is, for each message still in the conversation view now,
// why its content is gone ("" while it is there). A message the view no
// longer holds expired.
func currentState(now *memStore, tenant, conv, viewer string) (map[string]string, error) {
	v, err := conversation.Query(now, tenant, conv, viewer, "en", "", math.MaxInt32, time.Time{})
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(v.Messages))
	for _, m := range v.Messages {
		switch {
		case m.Status == "recalled":
			out[m.MsgID] = "recalled"
		case m.ContentErased:
			out[m.MsgID] = "erased"
		default:
			out[m.MsgID] = ""
		}
	}
	return out, nil
}
