package domain

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// complianceTypes lists the hold and erasure events in the order the
// golden files number them.
var complianceTypes = []string{TypeLegalHoldPlaced, TypeLegalHoldReleased, TypeErasureRequested, TypeContentErased}

func compliancePayloads() map[string]Payload {
	from := NewTime(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	return map[string]Payload{
		TypeLegalHoldPlaced: LegalHoldPlaced{HoldID: "6f1c2b8e-0d8a-4a3e-9c1b-2f6e1d0c0001", Scope: HoldUser, Subject: "alice", From: &from,
			Case: "CASE-2026-17", Reason: "litigation", By: "operator:carol"},
		TypeLegalHoldReleased: LegalHoldReleased{HoldID: "6f1c2b8e-0d8a-4a3e-9c1b-2f6e1d0c0001", Reason: "case closed", By: "token:admin"},
		TypeErasureRequested: ErasureRequested{ErasureID: "5d9f0c1e-7b7a-5b43-8d55-1a7e2a1d0001", User: "alice", Reason: "GDPR art. 17 request",
			RequestID: "dsr-1", By: "operator:carol"},
		TypeContentErased: ContentErased{ErasureID: "5d9f0c1e-7b7a-5b43-8d55-1a7e2a1d0001", User: "alice", Erased: []MsgID{"m-1", "m-2"},
			Held: []HeldContent{{MsgID: "m-3", HoldIDs: []string{"6f1c2b8e-0d8a-4a3e-9c1b-2f6e1d0c0001"}}}, Final: true},
	}
}

var (
	tnA    = Tenant{org: "acme", app: "chat"}
	sentAt = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
)

func ref(from UserID, conv string, at time.Time) ContentRef {
	return ContentRef{Tenant: tnA, MsgID: "m1", From: from, ConversationID: conv, SentAt: at}
}

func holdsOf(t *testing.T, evs ...Payload) Holds {
	t.Helper()
	var hs Holds
	for i, p := range evs {
		e := NewEvent("e", tnA, sentAt, p)
		e.StreamVersion = int64(i)
		if err := hs.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	return hs
}

func place(id string, scope HoldScope, subject string, from, to *time.Time) LegalHoldPlaced {
	p := LegalHoldPlaced{HoldID: id, Scope: scope, Subject: subject, Case: "c", By: "token:admin"}
	if from != nil {
		f := NewTime(*from)
		p.From = &f
	}
	if to != nil {
		u := NewTime(*to)
		p.To = &u
	}
	return p
}

func sentPlus(d time.Duration) *time.Time { t := sentAt.Add(d); return &t }

func TestAHoldCoversItsScopeWithinItsRange(t *testing.T) {
	for name, tc := range map[string]struct {
		hold LegalHoldPlaced
		ref  ContentRef
		want bool
	}{
		"a user hold covers what the user sent":           {place("h", HoldUser, "alice", nil, nil), ref("alice", "chat:alice:bob", sentAt), true},
		"a user hold does not cover what others sent":     {place("h", HoldUser, "alice", nil, nil), ref("bob", "chat:alice:bob", sentAt), false},
		"a conversation hold covers every sender":         {place("h", HoldConversation, "groupchat:g1", nil, nil), ref("bob", "groupchat:g1", sentAt), true},
		"a conversation hold covers only its own":         {place("h", HoldConversation, "groupchat:g1", nil, nil), ref("bob", "groupchat:g2", sentAt), false},
		"a tenant hold covers everything":                 {place("h", HoldTenant, "acme/chat", nil, nil), ref("zed", "chatroom:r", sentAt), true},
		"from is inclusive":                               {place("h", HoldTenant, "acme/chat", sentPlus(0), nil), ref("a", "c", sentAt), true},
		"before from is not covered":                      {place("h", HoldTenant, "acme/chat", sentPlus(time.Millisecond), nil), ref("a", "c", sentAt), false},
		"to is inclusive":                                 {place("h", HoldTenant, "acme/chat", nil, sentPlus(0)), ref("a", "c", sentAt), true},
		"after to is not covered":                         {place("h", HoldTenant, "acme/chat", nil, sentPlus(-time.Millisecond)), ref("a", "c", sentAt), false},
		"an instant finer than a millisecond rounds down": {place("h", HoldTenant, "acme/chat", nil, sentPlus(0)), ref("a", "c", sentAt.Add(999*time.Microsecond)), true},
	} {
		t.Run(name, func(t *testing.T) {
			hs := holdsOf(t, tc.hold)
			got := len(hs.Covering(tc.ref)) > 0
			if got != tc.want {
				t.Fatalf("covered %v, want %v", got, tc.want)
			}
		})
	}
}

func TestOverlappingHoldsEachKeepTheContentUntilEveryOneIsReleased(t *testing.T) {
	r := ref("alice", "chat:alice:bob", sentAt)
	hs := holdsOf(t, place("h1", HoldUser, "alice", nil, nil), place("h2", HoldConversation, "chat:alice:bob", sentPlus(-time.Hour), sentPlus(time.Hour)),
		place("h3", HoldUser, "bob", nil, nil))
	if got := hs.Covering(r); !reflect.DeepEqual(got, []string{"h1", "h2"}) {
		t.Fatalf("covering %v, want both overlapping holds in placement order", got)
	}
	var released Holds
	for _, id := range []string{"h1", "h2"} {
		p, err := DecideReleaseHold(id, "", "token:admin", hs)
		if err != nil || p == nil {
			t.Fatalf("release %s: %v %v", id, p, err)
		}
		e := NewEvent("r", tnA, sentAt, *p)
		e.StreamVersion = hs.Version() + 1
		if err := hs.Apply(e); err != nil {
			t.Fatal(err)
		}
		if id == "h1" {
			if got := hs.Covering(r); !reflect.DeepEqual(got, []string{"h2"}) {
				t.Fatalf("after releasing h1: %v, want h2 still keeping it", got)
			}
		}
		released = hs
	}
	if got := released.Covering(r); len(got) != 0 {
		t.Fatalf("after releasing both: still held by %v", got)
	}
	if h, _ := released.Find("h1"); !h.Released || h.ReleasedBy != "token:admin" || h.ReleasedAt == nil {
		t.Fatalf("released hold record: %+v", h)
	}
}

func TestHoldDecisions(t *testing.T) {
	hs := holdsOf(t, place("h1", HoldUser, "alice", nil, nil))
	cmd, err := NewPlaceHold(tnA, "h1", "user", "alice", nil, nil, "c", "", "token:admin")
	if err != nil {
		t.Fatal(err)
	}
	var conflict *ConflictError
	if _, err := DecidePlaceHold(cmd, hs); !errors.As(err, &conflict) || conflict.Code != "hold_exists" {
		t.Fatalf("placing a hold id twice: %v", err)
	}
	var nf *NotFoundError
	if _, err := DecideReleaseHold("nope", "", "x", hs); !errors.As(err, &nf) || nf.Code != "hold_not_found" {
		t.Fatalf("releasing an unknown hold: %v", err)
	}
	hs = holdsOf(t, place("h1", HoldUser, "alice", nil, nil), LegalHoldReleased{HoldID: "h1", By: "x"})
	if p, err := DecideReleaseHold("h1", "", "x", hs); p != nil || err != nil {
		t.Fatalf("releasing a released hold records nothing: %v %v", p, err)
	}
}

func TestNewPlaceHoldValidates(t *testing.T) {
	later := sentAt.Add(time.Hour)
	for name, tc := range map[string]struct {
		scope, subject, caseName string
		from, to                 *time.Time
		code                     string // "" valid
		subjectWant              string
	}{
		"a user":                        {"user", "alice", "c", nil, nil, "", "alice"},
		"a conversation made canonical": {"conversation", "chat:bob:alice", "c", nil, nil, "", "chat:alice:bob"},
		"the tenant, named":             {"tenant", "acme/chat", "c", nil, nil, "", "acme/chat"},
		"the tenant, unnamed":           {"tenant", "", "c", nil, nil, "", "acme/chat"},
		"another tenant":                {"tenant", "evil/corp", "c", nil, nil, "invalid_id", ""},
		"an unknown scope":              {"message", "m1", "c", nil, nil, "invalid_scope", ""},
		"a bad user":                    {"user", "a b", "c", nil, nil, "invalid_id", ""},
		"a bad conversation":            {"conversation", "nope", "c", nil, nil, "invalid_id", ""},
		"no case":                       {"user", "alice", "", nil, nil, "invalid_case", ""},
		"a case with a newline":         {"user", "alice", "a\nb", nil, nil, "invalid_case", ""},
		"to before from":                {"user", "alice", "c", &later, &sentAt, "invalid_range", ""},
		"from before to":                {"user", "alice", "c", &sentAt, &later, "", "alice"},
	} {
		t.Run(name, func(t *testing.T) {
			cmd, err := NewPlaceHold(tnA, "h", tc.scope, tc.subject, tc.from, tc.to, tc.caseName, "", "by")
			var inv *InvalidError
			if tc.code == "" {
				if err != nil || cmd.Subject != tc.subjectWant {
					t.Fatalf("%+v %v", cmd, err)
				}
				return
			}
			if !errors.As(err, &inv) || inv.Code != tc.code {
				t.Fatalf("error %v, want %s", err, tc.code)
			}
		})
	}
}

func TestHoldsMatchingAUserAConversationOrTheTenantOverAPeriod(t *testing.T) {
	hs := holdsOf(t,
		place("u", HoldUser, "alice", sentPlus(0), sentPlus(time.Hour)),
		place("c", HoldConversation, "groupchat:g", nil, nil),
		place("t", HoldTenant, "acme/chat", sentPlus(48*time.Hour), nil),
		place("gone", HoldUser, "alice", nil, nil), LegalHoldReleased{HoldID: "gone", By: "x"})
	ids := func(list []Hold) []string {
		var out []string
		for _, h := range list {
			out = append(out, h.ID)
		}
		return out
	}
	for name, tc := range map[string]struct {
		scope    HoldScope
		subject  string
		from, to time.Time
		want     []string
	}{
		"every active hold":                        {"", "", time.Time{}, time.Time{}, []string{"u", "c", "t"}},
		"alice at any time (the tenant's too)":     {HoldUser, "alice", time.Time{}, time.Time{}, []string{"u", "t"}},
		"alice in a period the tenant hold misses": {HoldUser, "alice", sentAt, sentAt.Add(2 * time.Hour), []string{"u"}},
		"alice after her hold ended":               {HoldUser, "alice", sentAt.Add(2 * time.Hour), sentAt.Add(3 * time.Hour), nil},
		"the group":                                {HoldConversation, "groupchat:g", time.Time{}, time.Time{}, []string{"c", "t"}},
	} {
		t.Run(name, func(t *testing.T) {
			if got := ids(hs.Matching(tc.scope, tc.subject, tc.from, tc.to)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("matching %v, want %v", got, tc.want)
			}
		})
	}
}

func erasureOf(t *testing.T, evs ...Payload) Erasure {
	t.Helper()
	var e Erasure
	for i, p := range evs {
		ev := NewEvent("e", tnA, sentAt, p)
		ev.StreamVersion = int64(i)
		if err := e.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func TestAnErasureIsDeferredByAHoldAndDoneWhenTheHoldLetsGo(t *testing.T) {
	req := ErasureRequested{ErasureID: "x", User: "alice", Reason: "r", By: "token:admin"}
	refs := []ContentRef{
		{Tenant: tnA, MsgID: "m1", From: "alice", ConversationID: "chat:alice:bob", SentAt: sentAt},
		{Tenant: tnA, MsgID: "m2", From: "alice", ConversationID: "groupchat:g", SentAt: sentAt},
	}
	holds := holdsOf(t, place("h", HoldConversation, "groupchat:g", nil, nil))
	e := erasureOf(t, req)
	if e.Status() != ErasurePending {
		t.Fatalf("status before the first pass: %s", e.Status())
	}
	erase, held := PlanErasure(e, refs, holds)
	if len(erase) != 1 || erase[0].MsgID != "m1" || !reflect.DeepEqual(held, []HeldContent{{MsgID: "m2", HoldIDs: []string{"h"}}}) {
		t.Fatalf("plan: erase %v, held %v", erase, held)
	}
	e = erasureOf(t, req, ContentErased{ErasureID: "x", User: "alice", Erased: []MsgID{"m1"}, Held: held, Final: true})
	if e.Status() != ErasureDeferred || !e.IsErased("m1") || len(e.Held) != 1 {
		t.Fatalf("after the first pass: %s %+v", e.Status(), e)
	}
	// the hold is released: the next pass erases what it kept, nothing twice
	erase, held = PlanErasure(e, refs, Holds{})
	if len(erase) != 1 || erase[0].MsgID != "m2" || held != nil {
		t.Fatalf("plan after the release: erase %v, held %v", erase, held)
	}
	e = erasureOf(t, req, ContentErased{ErasureID: "x", User: "alice", Erased: []MsgID{"m1"}, Held: []HeldContent{{MsgID: "m2", HoldIDs: []string{"h"}}}, Final: true},
		ContentErased{ErasureID: "x", User: "alice", Erased: []MsgID{"m2"}, Held: []HeldContent{}, Final: true, ReleasedHold: "h"})
	if e.Status() != ErasureDone || len(e.Held) != 0 || !reflect.DeepEqual(e.Erased, []MsgID{"m1", "m2"}) || e.Passes != 2 {
		t.Fatalf("after the release's pass: %s %+v", e.Status(), e)
	}
	if DecideErasure("x", ErasureCommand{User: "alice"}, e) != nil {
		t.Fatal("a repeat of a recorded erasure records it again")
	}
}

func TestNewErasureCommandValidates(t *testing.T) {
	for name, tc := range map[string]struct{ user, reason, requestID, code string }{
		"valid":                     {"alice", "GDPR art. 17", "dsr-1", ""},
		"no reason":                 {"alice", "", "", "invalid_reason"},
		"a bad user":                {"al ice", "r", "", "invalid_user"},
		"a request id with a space": {"alice", "r", "a b", "invalid_request_id"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewErasureCommand(tc.user, tc.reason, tc.requestID, "by")
			var inv *InvalidError
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.As(err, &inv) || inv.Code != tc.code {
				t.Fatalf("error %v, want %s", err, tc.code)
			}
		})
	}
}
