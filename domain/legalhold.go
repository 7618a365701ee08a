package domain

import (
	"fmt"
	"slices"
	"time"
)

// Legal holds are events of the tenant's hold stream: placed, and later
// released. While a hold covers a message's content (by its sender, its
// conversation, or the whole tenant, and the time it was sent), nothing
// destroys that content nor its audit entries: not a recall, an expiry,
// the retention purge, nor an erasure. Holds may overlap; each keeps what
// it covers until it is released. The hold stream is small (a tenant has
// a handful of open cases), so the whole of it is the state a hold
// command is decided against and a hold check is answered from.

// HoldStream holds a tenant's legal holds; its category is "hold".
func HoldStream(t Tenant) string { return "hold-" + t.String() }

// The hold event types of schema v1.
const (
	TypeLegalHoldPlaced   = "LegalHoldPlaced"
	TypeLegalHoldReleased = "LegalHoldReleased"
)

// HoldScope is what a hold covers: one user's content (the messages the
// user sent), one conversation's, or the whole tenant's.
type HoldScope string

const (
	HoldUser         HoldScope = "user"
	HoldConversation HoldScope = "conversation"
	HoldTenant       HoldScope = "tenant"
)

// LegalHoldPlaced records a new hold. Subject is the user id, the
// canonical conversation id or the tenant ("org/app"), by scope. From and
// To, when set, bound the send times it covers (both inclusive).
type LegalHoldPlaced struct {
	HoldID  string    `json:"hold_id"`
	Scope   HoldScope `json:"scope"`
	Subject string    `json:"subject"`
	From    *Time     `json:"from,omitempty"`
	To      *Time     `json:"to,omitempty"`
	Case    string    `json:"case"`
	Reason  string    `json:"reason"`
	By      string    `json:"by"`
}

// LegalHoldReleased records that a hold no longer keeps anything: what it
// alone kept may be destroyed again, and the erasures it deferred are
// carried out.
type LegalHoldReleased struct {
	HoldID string `json:"hold_id"`
	Reason string `json:"reason,omitempty"`
	By     string `json:"by"`
}

func (LegalHoldPlaced) EventType() string   { return TypeLegalHoldPlaced }
func (LegalHoldReleased) EventType() string { return TypeLegalHoldReleased }

// Hold is one hold as its events made it.
type Hold struct {
	ID         string    `json:"hold_id"`
	Scope      HoldScope `json:"scope"`
	Subject    string    `json:"id"`
	From       *Time     `json:"from,omitempty"`
	To         *Time     `json:"to,omitempty"`
	Case       string    `json:"case"`
	Reason     string    `json:"reason"`
	PlacedBy   string    `json:"placed_by"`
	PlacedAt   Time      `json:"placed_at"`
	Released   bool      `json:"released"`
	ReleasedBy string    `json:"released_by,omitempty"`
	ReleasedAt *Time     `json:"released_at,omitempty"`
}

// Covers reports whether the hold, while it is not released, keeps ref's
// content: the scope's subject matches and the send time is in range.
func (h Hold) Covers(ref ContentRef) bool {
	if h.Released || !h.InRange(ref.SentAt) {
		return false
	}
	switch h.Scope {
	case HoldTenant:
		return true
	case HoldUser:
		return string(ref.From) == h.Subject
	case HoldConversation:
		return ref.ConversationID == h.Subject
	}
	return false
}

// InRange reports whether an instant is within the hold's from and to.
func (h Hold) InRange(at time.Time) bool {
	at = at.UTC().Truncate(time.Millisecond)
	if h.From != nil && at.Before(h.From.Time()) {
		return false
	}
	return h.To == nil || !at.After(h.To.Time())
}

// Holds is a tenant's holds, rebuilt by applying its hold stream in order:
// every hold ever placed, released ones included (the record says who
// released it, when). The zero value is a tenant without holds.
type Holds struct {
	list []Hold
	next int64 // the stream version of the next event
}

// Version is the hold stream's version: the expected version of the next
// append; NoStream when no hold was ever placed.
func (hs Holds) Version() int64 { return hs.next - 1 }

// Apply folds one event of the hold stream.
func (hs *Holds) Apply(e Event) error {
	switch p := e.Data.(type) {
	case LegalHoldPlaced:
		hs.list = append(hs.list, Hold{ID: p.HoldID, Scope: p.Scope, Subject: p.Subject, From: p.From, To: p.To,
			Case: p.Case, Reason: p.Reason, PlacedBy: p.By, PlacedAt: e.OccurredAt})
	case LegalHoldReleased:
		if i := hs.index(p.HoldID); i >= 0 {
			at := e.OccurredAt
			hs.list[i].Released, hs.list[i].ReleasedBy, hs.list[i].ReleasedAt = true, p.By, &at
		}
	default:
		return fmt.Errorf("event %s: %s does not belong to a hold stream", e.ID, e.Type())
	}
	hs.next = e.StreamVersion + 1
	return nil
}

func (hs Holds) index(id string) int {
	return slices.IndexFunc(hs.list, func(h Hold) bool { return h.ID == id })
}

// All is every hold, in the order they were placed.
func (hs Holds) All() []Hold { return slices.Clone(hs.list) }

// Find returns the hold with id.
func (hs Holds) Find(id string) (Hold, bool) {
	if i := hs.index(id); i >= 0 {
		return hs.list[i], true
	}
	return Hold{}, false
}

// Covering is the ids of the holds that keep ref's content now, in the
// order they were placed (the stable order HoldChecker promises).
func (hs Holds) Covering(ref ContentRef) []string {
	var ids []string
	for _, h := range hs.list {
		if h.Covers(ref) {
			ids = append(ids, h.ID)
		}
	}
	return ids
}

// Matching is the holds not released that name scope and subject and
// whose range meets [from, to] (zero: unbounded): which holds cover a
// user, a conversation or the tenant over a period. An empty scope
// matches every hold; a tenant hold covers every user and conversation.
func (hs Holds) Matching(scope HoldScope, subject string, from, to time.Time) []Hold {
	var out []Hold
	for _, h := range hs.list {
		if h.Released {
			continue
		}
		if scope != "" && h.Scope != HoldTenant && (h.Scope != scope || h.Subject != subject) {
			continue
		}
		if !to.IsZero() && h.From != nil && h.From.Time().After(to) {
			continue
		}
		if !from.IsZero() && h.To != nil && h.To.Time().Before(from) {
			continue
		}
		out = append(out, h)
	}
	return out
}

// PlaceHold is a validated request for a new hold.
type PlaceHold struct {
	ID       string
	Scope    HoldScope
	Subject  string
	From, To *Time
	Case     string
	Reason   string
	By       string
}

// NewPlaceHold validates a hold request of tenant t: scope user (subject
// a user id), conversation (a conversation id, made canonical) or tenant
// (subject empty or the tenant itself); a case name of 1–128 characters;
// a reason of up to 512; from before to when both are given. id is the
// hold's id, made by the caller (a UUID).
func NewPlaceHold(t Tenant, id, scope, subject string, from, to *time.Time, caseName, reason, by string) (PlaceHold, error) {
	sc, sub, err := ParseHoldSubject(t, scope, subject)
	if err != nil {
		return PlaceHold{}, err
	}
	cmd := PlaceHold{ID: id, Scope: sc, Subject: sub, By: by}
	if caseName == "" {
		return PlaceHold{}, invalid("invalid_case", "case: name the case the hold is for")
	}
	if err := checkLine("case", caseName, 128); err != nil {
		return PlaceHold{}, err
	}
	if err := CheckReasonText(reason); err != nil {
		return PlaceHold{}, err
	}
	cmd.Case, cmd.Reason = caseName, reason
	if from != nil {
		f := NewTime(*from)
		cmd.From = &f
	}
	if to != nil {
		u := NewTime(*to)
		cmd.To = &u
	}
	if cmd.From != nil && cmd.To != nil && cmd.To.Before(*cmd.From) {
		return PlaceHold{}, invalid("invalid_range", "to is before from")
	}
	return cmd, nil
}

// ParseHoldSubject validates what a hold of tenant t covers: scope user
// (subject a user id), conversation (a conversation id, returned
// canonical) or tenant (subject empty or the tenant itself, returned as
// the tenant).
func ParseHoldSubject(t Tenant, scope, subject string) (HoldScope, string, error) {
	switch sc := HoldScope(scope); sc {
	case HoldUser:
		u, err := ParseUserID("id", subject)
		return sc, string(u), err
	case HoldConversation:
		c, err := ParseConversationID(subject)
		if err != nil {
			return "", "", invalid("invalid_id", "id: %v", err)
		}
		return sc, c, nil
	case HoldTenant:
		if subject != "" && subject != t.String() {
			return "", "", invalid("invalid_id", "id %q: a tenant hold names this tenant (%s) or nothing", subject, t)
		}
		return sc, t.String(), nil
	}
	return "", "", invalid("invalid_scope", "scope %q: want user, conversation or tenant", scope)
}

// checkLine validates a one-line text field: valid UTF-8, at most max
// bytes, no control characters.
func checkLine(field, s string, max int) error {
	if err := checkText(field, s, max); err != nil {
		return err
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return invalid("invalid_"+field, "%s: control characters are not allowed", field)
		}
	}
	return nil
}

const holdNotFound = "hold_not_found"

// DecidePlaceHold decides a new hold against the tenant's holds: the
// payload that records it. A hold id already used is a *ConflictError
// (hold_exists).
func DecidePlaceHold(cmd PlaceHold, cur Holds) (LegalHoldPlaced, error) {
	if _, ok := cur.Find(cmd.ID); ok {
		return LegalHoldPlaced{}, &ConflictError{Code: "hold_exists", Msg: fmt.Sprintf("hold %s already exists", cmd.ID)}
	}
	return LegalHoldPlaced{HoldID: cmd.ID, Scope: cmd.Scope, Subject: cmd.Subject, From: cmd.From, To: cmd.To,
		Case: cmd.Case, Reason: cmd.Reason, By: cmd.By}, nil
}

// DecideReleaseHold decides the release of hold id: the payload that
// records it, or nil when it is released already (a repeat changes
// nothing). A hold the tenant does not have is a *NotFoundError
// (hold_not_found).
func DecideReleaseHold(id, reason, by string, cur Holds) (*LegalHoldReleased, error) {
	h, ok := cur.Find(id)
	if !ok {
		return nil, &NotFoundError{What: "hold " + id, Code: holdNotFound}
	}
	if h.Released {
		return nil, nil
	}
	if err := CheckReasonText(reason); err != nil {
		return nil, err
	}
	return &LegalHoldReleased{HoldID: id, Reason: reason, By: by}, nil
}

// ParseHoldID validates a hold id from a path: 1–64 letters, digits, '-'
// or '_' (the server makes them: UUIDs).
func ParseHoldID(s string) (string, error) {
	if !validName(s) {
		return "", invalid("invalid_hold_id", "hold id %q: want 1-64 letters, digits, '-' or '_'", s)
	}
	return s, nil
}
