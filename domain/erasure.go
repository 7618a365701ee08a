package domain

import (
	"fmt"
	"slices"
)

// An erasure request (PIPL art. 47, GDPR art. 17) destroys the content of
// the messages a user sent, up to the request, except what a legal hold
// keeps. It is its own stream: the request, then what each pass over the
// user's messages erased and what a hold kept (with the holds named), a
// chunk of messages at a time. The first pass runs at the request; a
// release of a hold runs another over what that pass deferred.

// ErasureStream holds one erasure; its category is "erasure".
func ErasureStream(t Tenant, id string) string { return "erasure-" + t.String() + "." + id }

// The erasure event types of schema v1.
const (
	TypeErasureRequested = "ErasureRequested"
	TypeContentErased    = "ContentErased"
)

// ErasureRequested records an admin's request to erase a user's content:
// every message the user sent until the request.
type ErasureRequested struct {
	ErasureID string `json:"erasure_id"`
	User      UserID `json:"user"`
	Reason    string `json:"reason"`
	RequestID string `json:"request_id,omitempty"`
	By        string `json:"by"`
}

// HeldContent is a message whose content a hold kept from an erasure,
// and the holds that keep it.
type HeldContent struct {
	MsgID   MsgID    `json:"msg_id"`
	HoldIDs []string `json:"hold_ids"`
}

// ContentErased records one chunk of an erasure's pass: the messages
// whose content was destroyed, and those a hold kept. Final marks the
// pass's last chunk. ReleasedHold names the hold whose release started
// the pass (absent for the first).
type ContentErased struct {
	ErasureID    string        `json:"erasure_id"`
	User         UserID        `json:"user"`
	Erased       []MsgID       `json:"erased"`
	Held         []HeldContent `json:"held"`
	Final        bool          `json:"final"`
	ReleasedHold string        `json:"released_hold,omitempty"`
}

func (ErasureRequested) EventType() string { return TypeErasureRequested }
func (ContentErased) EventType() string    { return TypeContentErased }

// Erasure is one erasure's state, rebuilt from its stream.
type Erasure struct {
	Exists      bool          `json:"-"`
	ID          string        `json:"erasure_id"`
	User        UserID        `json:"user"`
	Reason      string        `json:"reason"`
	RequestID   string        `json:"request_id,omitempty"`
	By          string        `json:"by"`
	RequestedAt Time          `json:"requested_at"`
	Erased      []MsgID       `json:"erased"`
	Held        []HeldContent `json:"held"`
	// Passes is how many passes finished: 0 while the first is under way
	// (or was cut short by a crash: a repeat of the request finishes it).
	Passes int `json:"passes"`
	// Position is the request's position in the log: the messages the
	// user sent before it are the ones erased.
	Position uint64 `json:"-"`

	erased map[MsgID]bool
	next   int64
}

// Erasure statuses.
const (
	ErasurePending  = "pending"  // the first pass has not finished
	ErasureDeferred = "deferred" // a hold keeps some of the content
	ErasureDone     = "done"     // everything the request covers is erased
)

// Status is the erasure's state: pending, deferred or done.
func (e Erasure) Status() string {
	switch {
	case e.Passes == 0:
		return ErasurePending
	case len(e.Held) > 0:
		return ErasureDeferred
	}
	return ErasureDone
}

// Version is the erasure stream's version: what the next append expects.
func (e Erasure) Version() int64 { return e.next - 1 }

// IsErased reports whether a message's content was erased already.
func (e Erasure) IsErased(id MsgID) bool { return e.erased[id] }

// Apply folds one event of the erasure's stream.
func (e *Erasure) Apply(ev Event) error {
	switch p := ev.Data.(type) {
	case ErasureRequested:
		*e = Erasure{Exists: true, ID: p.ErasureID, User: p.User, Reason: p.Reason, RequestID: p.RequestID, By: p.By,
			RequestedAt: ev.OccurredAt, Erased: []MsgID{}, Held: []HeldContent{}, Position: ev.Position, erased: map[MsgID]bool{}}
	case ContentErased:
		if e.erased == nil {
			e.erased = map[MsgID]bool{}
		}
		for _, id := range p.Erased {
			if !e.erased[id] {
				e.erased[id] = true
				e.Erased = append(e.Erased, id)
			}
		}
		// a message erased now is no longer held; one held again says by
		// which holds now
		e.Held = slices.DeleteFunc(e.Held, func(h HeldContent) bool {
			return e.erased[h.MsgID] || slices.ContainsFunc(p.Held, func(n HeldContent) bool { return n.MsgID == h.MsgID })
		})
		e.Held = append(e.Held, p.Held...)
		if p.Final {
			e.Passes++
		}
	default:
		return fmt.Errorf("event %s: %s does not belong to an erasure stream", ev.ID, ev.Type())
	}
	e.next = ev.StreamVersion + 1
	return nil
}

// ErasureCommand is a validated erasure request.
type ErasureCommand struct {
	User      UserID
	Reason    string
	RequestID string
	By        string
}

// NewErasureCommand validates an erasure request: the user whose content
// goes, the reason (required: the request is a record of why), and an
// optional request_id that tells a retry from a new request.
func NewErasureCommand(user, reason, requestID, by string) (ErasureCommand, error) {
	u, err := ParseUserID("user", user)
	if err != nil {
		return ErasureCommand{}, err
	}
	if reason == "" {
		return ErasureCommand{}, invalid("invalid_reason", "reason: say why the content is erased")
	}
	if err := CheckReasonText(reason); err != nil {
		return ErasureCommand{}, err
	}
	if requestID, err = ParseToken("request_id", requestID); err != nil {
		return ErasureCommand{}, err
	}
	return ErasureCommand{User: u, Reason: reason, RequestID: requestID, By: by}, nil
}

// DecideErasure decides an erasure request against the erasure of the
// same id: the payload that records it, or nil when it is recorded
// already (a repeat of the request is the same erasure).
func DecideErasure(id string, cmd ErasureCommand, cur Erasure) *ErasureRequested {
	if cur.Exists {
		return nil
	}
	return &ErasureRequested{ErasureID: id, User: cmd.User, Reason: cmd.Reason, RequestID: cmd.RequestID, By: cmd.By}
}

// PlanErasure decides one chunk of an erasure's pass: of the user's
// messages refs, those not erased yet are either destroyed now or, when a
// hold covers them, kept, with the holds named.
func PlanErasure(cur Erasure, refs []ContentRef, holds Holds) (erase []ContentRef, held []HeldContent) {
	for _, r := range refs {
		if cur.IsErased(r.MsgID) {
			continue
		}
		if ids := holds.Covering(r); len(ids) > 0 {
			held = append(held, HeldContent{MsgID: r.MsgID, HoldIDs: ids})
			continue
		}
		erase = append(erase, r)
	}
	return erase, held
}

// ParseErasureID validates an erasure id from a path, as ParseHoldID.
func ParseErasureID(s string) (string, error) {
	if !validName(s) {
		return "", invalid("invalid_erasure_id", "erasure id %q: want 1-64 letters, digits, '-' or '_'", s)
	}
	return s, nil
}
