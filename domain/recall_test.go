package domain

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestDecideRecall(t *testing.T) {
	for _, scenarios := range [][]recallScenario{windowScenarios(), typeAndReadScenarios(), existenceScenarios(), orderScenarios()} {
		for _, s := range scenarios {
			t.Run(s.name, s.check)
		}
	}
}

// windowScenarios: the recall windows (rule 8) and who may recall (rule 6), by role.
func windowScenarios() []recallScenario {
	def := policyWith(nil)
	return []recallScenario{
		// rule 8: the boundary of the sender window
		{"sender within window is allowed", []recorded{sentToBob()}, def, recall("alice", ActorMember), 1000, recalled(1000, 120_000)},
		{"elapsed equals window is allowed", []recorded{sentToBob()}, def, recall("alice", ActorMember), 120_000, recalled(120_000, 120_000)},
		{"1 ms past the window is a timeout", []recorded{sentToBob()}, def, recall("alice", ActorMember), 120_001, refused(ReasonExceedTimeLimit, 120_001, 120_000)},
		{"a custom sender window applies", []recorded{sentToBob()}, policyWith(func(p *Policy) { p.SenderWindowS = 5 }), recall("alice", ""), 5001,
			refused(ReasonExceedTimeLimit, 5001, 5000)},
		{"a send in the future (clock step back) counts as 0 elapsed", []recorded{sentToBob()}, def, recall("alice", ActorMember), -1000, recalled(0, 120_000)},
		// rule 6 and the admin window, by role
		{"group owner gets the admin window in a group", []recorded{sentToGroup()}, def, recall("owner", ActorGroupOwner), 3_600_000, recalled(3_600_000, 86_400_000)},
		{"group admin gets the admin window in a chat room", []recorded{sentTo(ChatRoom, "r1", "txt")}, def, recall("mod", ActorGroupAdmin), 86_400_000,
			recalled(86_400_000, 86_400_000)},
		{"admin window boundary plus 1 ms is a timeout", []recorded{sentToGroup()}, def, recall("mod", ActorGroupAdmin), 86_400_001,
			refused(ReasonExceedTimeLimit, 86_400_001, 86_400_000)},
		{"group owner has no power in a one-to-one chat", []recorded{sentToBob()}, def, recall("owner", ActorGroupOwner), 1000, refused(ReasonForbidden, 1000, 120_000)},
		{"group owner who is the sender of a 1:1 message uses the sender window", []recorded{sentToBob()}, def, recall("alice", ActorGroupOwner), 120_001,
			refused(ReasonExceedTimeLimit, 120_001, 120_000)},
		{"tenant admin may recall anywhere with the admin window", []recorded{sentToBob()}, def, recall("root", ActorTenantAdmin), 600_000, recalled(600_000, 86_400_000)},
		{"another member may not recall", []recorded{sentToBob()}, def, recall("bob", ActorMember), 10, refused(ReasonForbidden, 10, 120_000)},
		{"another group member may not recall", []recorded{sentToGroup()}, def, recall("bob", ActorMember), 10, refused(ReasonForbidden, 10, 120_000)},
		{"the deny list forbids even the sender", []recorded{sentToBob()}, policyWith(func(p *Policy) { p.DenyRecallUsers = []UserID{"alice"} }),
			recall("alice", ActorMember), 10, refused(ReasonForbidden, 10, 120_000)},
		{"the deny list forbids a tenant admin too", []recorded{sentToBob()}, policyWith(func(p *Policy) { p.DenyRecallUsers = []UserID{"root"} }),
			recall("root", ActorTenantAdmin), 10, refused(ReasonForbidden, 10, 86_400_000)},
	}
}

// typeAndReadScenarios: what may be recalled (rule 7) and after whose read (rule 9).
func typeAndReadScenarios() []recallScenario {
	def := policyWith(nil)
	return []recallScenario{
		// rule 7
		{"red packets are never recallable", []recorded{sentTo(ChatSingle, "bob", "red_packet")}, def, recall("alice", ActorMember), 10,
			refused(ReasonTypeNotRecallable, 10, 120_000)},
		{"transfers are never recallable, even by a tenant admin", []recorded{sentTo(ChatSingle, "bob", "transfer")}, def, recall("root", ActorTenantAdmin), 10,
			refused(ReasonTypeNotRecallable, 10, 86_400_000)},
		{"files are recallable by default", []recorded{sentTo(ChatSingle, "bob", "file")}, def, recall("alice", ActorMember), 10, recalled(10, 120_000)},
		{"files are not recallable when the policy leaves them out", []recorded{sentTo(ChatSingle, "bob", "file")},
			policyWith(func(p *Policy) { p.RecallableTypes = []MessageType{"txt"} }), recall("alice", ActorMember), 10, refused(ReasonTypeNotRecallable, 10, 120_000)},
		// rule 9
		{"block_after_read refuses once a recipient read it", []recorded{sentToBob(), readBy(5, "bob")}, policyWith(func(p *Policy) { p.BlockAfterRead = true }),
			recall("alice", ActorMember), 10, refused(ReasonReadByRecipient, 10, 120_000)},
		{"block_after_read ignores the sender's own read", []recorded{sentToBob(), readBy(5, "alice")}, policyWith(func(p *Policy) { p.BlockAfterRead = true }),
			recall("alice", ActorMember), 10, recalled(10, 120_000, "alice")},
		{"a read message is recallable without block_after_read, its readers the exposure", []recorded{sentToBob(), readBy(5, "bob")}, def,
			recall("alice", ActorMember), 10, recalled(10, 120_000, "bob")},
	}
}

// existenceScenarios: the tenant, the message and its state (rules 1 to 5).
func existenceScenarios() []recallScenario {
	def := policyWith(nil)
	return []recallScenario{
		// rules 1 to 5
		{"a disabled tenant refuses first", nil, policyWith(func(p *Policy) { p.RecallEnabled = false }), recall("alice", ActorMember), 10,
			refused(ReasonServiceDisabled, 0, 0)},
		{"a missing message is not_found", nil, def, recall("alice", ActorMember), 10, refused(ReasonNotFound, 0, 0)},
		{"an expired message is expired", []recorded{sentToBob(), expiredAt(5)}, def, recall("alice", ActorMember), 10, refused(ReasonExpired, 10, 120_000)},
		{"past retention counts as expired before the expiry event", []recorded{sentToBob()},
			policyWith(func(p *Policy) { p.MessageRetentionS = 3600; p.AdminWindowS = 3600 }), recall("root", ActorTenantAdmin), 3_600_001,
			refused(ReasonExpired, 3_600_001, 3_600_000)},
		{"exactly at retention is not expired", []recorded{sentToBob()},
			policyWith(func(p *Policy) { p.MessageRetentionS = 3600; p.AdminWindowS = 3600 }), recall("root", ActorTenantAdmin), 3_600_000,
			recalled(3_600_000, 3_600_000)},
		{"a recalled message is already_recalled", []recorded{sentToBob(), recalledBy(5, "alice")}, def, recall("alice", ActorMember), 10,
			refused(ReasonAlreadyRecalled, 10, 120_000)},
		{"a wrong recipient is recipient_mismatch", []recorded{sentToBob()}, def, RecallCommand{MsgID: "m1", Actor: "admin", Role: ActorTenantAdmin, To: "carol"}, 10,
			refused(ReasonRecipientMismatch, 10, 86_400_000)},
		{"the right recipient passes rule 5", []recorded{sentToBob()}, def, RecallCommand{MsgID: "m1", Actor: "admin", Role: ActorTenantAdmin, To: "bob"}, 10,
			recalled(10, 86_400_000)},
	}
}

// orderScenarios: the order of the rules, and what an attempt records besides its outcome.
func orderScenarios() []recallScenario {
	def := policyWith(nil)
	return []recallScenario{
		// order: the earlier rule wins
		{"disabled beats not found", nil, policyWith(func(p *Policy) { p.RecallEnabled = false }), recall("bob", ActorMember), 10, refused(ReasonServiceDisabled, 0, 0)},
		{"expired beats already recalled", []recorded{sentToBob(), recalledBy(5, "alice"), expiredAt(6)}, def, recall("alice", ActorMember), 10,
			refused(ReasonExpired, 10, 120_000)},
		{"already recalled beats forbidden", []recorded{sentToBob(), recalledBy(5, "alice")}, def, recall("bob", ActorMember), 10,
			refused(ReasonAlreadyRecalled, 10, 120_000)},
		{"recipient mismatch beats forbidden", []recorded{sentToBob()}, def, RecallCommand{MsgID: "m1", Actor: "bob", Role: ActorMember, To: "carol"}, 10,
			refused(ReasonRecipientMismatch, 10, 120_000)},
		{"forbidden beats type not recallable", []recorded{sentTo(ChatSingle, "bob", "red_packet")}, def, recall("bob", ActorMember), 10,
			refused(ReasonForbidden, 10, 120_000)},
		{"type not recallable beats timeout", []recorded{sentTo(ChatSingle, "bob", "transfer")}, def, recall("alice", ActorMember), 999_999,
			refused(ReasonTypeNotRecallable, 999_999, 120_000)},
		{"timeout beats read by recipient", []recorded{sentToBob(), readBy(5, "bob")}, policyWith(func(p *Policy) { p.BlockAfterRead = true }),
			recall("alice", ActorMember), 120_001, refused(ReasonExceedTimeLimit, 120_001, 120_000)},
		// what an attempt records besides the outcome
		{"the reason text and request id are recorded, accepted", []recorded{sentToGroup(), readBy(5, "bob"), readBy(6, "carol")}, DefaultPolicy(),
			RecallCommand{MsgID: "m1", Actor: "alice", Role: ActorMember, Platform: "web", ReasonText: "typo", RequestID: "r-1"}, 1500,
			recalled(1500, 120_000, "bob", "carol")},
		{"the reason text and request id are recorded, refused", []recorded{sentToGroup()}, def,
			RecallCommand{MsgID: "m1", Actor: "bob", Role: ActorMember, Platform: "web", ReasonText: "not mine", RequestID: "r-2"}, 1500,
			refused(ReasonForbidden, 1500, 120_000)},
	}
}

// The exposure recorded is a copy: reads recorded later, or a change to
// the state, do not change what the event says.
func TestRecalledExposureIsACopyOfTheReaders(t *testing.T) {
	m := given(t, sentToGroup(), readBy(5, "bob"), readBy(6, "carol"))
	_, payload := DecideRecall(recall("alice", ActorMember), m, DefaultPolicy(), at(1500))
	rec := payload.(MessageRecalled)
	m.ReadBy[0] = "mallory"
	if rec.ReadBy[0] != "bob" {
		t.Fatal("exposure aliases the message state")
	}
}

func TestEasemobStrings(t *testing.T) {
	want := map[Reason]string{
		ReasonServiceDisabled:   "message recall service is unopened",
		ReasonNotFound:          "not_found msg",
		ReasonExpired:           "not_found msg",
		ReasonAlreadyRecalled:   "not_found msg",
		ReasonRecipientMismatch: "can't find msg to",
		ReasonExceedTimeLimit:   "exceed recall time limit",
		ReasonForbidden:         "forbidden",
		ReasonTypeNotRecallable: "type_not_recallable",
		ReasonReadByRecipient:   "read_by_recipient",
	}
	if len(want) != len(Reasons) {
		t.Fatalf("%d reasons listed, %d checked", len(Reasons), len(want))
	}
	for _, r := range Reasons {
		if got := r.Easemob(); got != want[r] {
			t.Errorf("%s: %q, want %q", r, got, want[r])
		}
		if r.IsTimeout() != (r == ReasonExceedTimeLimit) {
			t.Errorf("%s: IsTimeout %v", r, r.IsTimeout())
		}
	}
}

func TestDecideExpire(t *testing.T) {
	p := policyWith(func(p *Policy) { p.MessageRetentionS = 60; p.SenderWindowS = 60; p.AdminWindowS = 60 })
	expired := MessageExpired{MsgID: "m1", RetentionS: 60}
	scenarios := []struct {
		name  string
		given []recorded
		atMs  int64
		then  []Payload // nothing: nothing recorded
	}{
		{"at exactly the retention it is kept", []recorded{sentToBob()}, 60_000, nil},
		{"1 ms past retention it expires", []recorded{sentToBob()}, 60_001, []Payload{expired}},
		{"a recalled message still expires", []recorded{sentToBob(), recalledBy(5, "alice")}, 60_001, []Payload{expired}},
		{"a message never expires twice", []recorded{sentToBob(), expiredAt(60_001)}, 3_600_000, nil},
		{"a missing message does not expire", nil, 3_600_000, nil},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			var got []Payload
			if exp, ok := DecideExpire(given(t, s.given...), p, at(s.atMs)); ok {
				got = append(got, exp)
			}
			if !reflect.DeepEqual(got, s.then) {
				t.Fatalf("recorded %+v, want %+v", got, s.then)
			}
		})
	}
}

func TestMessagePurgedBeforeItExpiredStillExpiresOnce(t *testing.T) {
	p := policyWith(func(p *Policy) { p.MessageRetentionS = 60; p.SenderWindowS = 60; p.AdminWindowS = 60 })
	expired := MessageExpired{MsgID: "m1", RetentionS: 60}
	scenarios := []struct {
		name  string
		given Message // what the stream still holds
		atMs  int64
		then  []Payload
	}{
		{"at exactly the retention it is kept", given(t), 60_000, nil},
		{"1 ms past retention it expires", given(t), 60_001, []Payload{expired}},
		{"a stream with only later events expires", givenFrom(t, 3, readBy(5, "bob")), 3_600_000, []Payload{expired}},
		{"an expiry already recorded is not repeated", givenFrom(t, 3, expiredAt(60_001)), 3_600_000, nil},
		{"a stream that still holds the send is DecideExpire's", given(t, sentToBob()), 3_600_000, nil},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			var got []Payload
			if exp, ok := DecideExpirePurged(s.given, "m1", t0, p, at(s.atMs)); ok {
				got = append(got, exp)
			}
			if !reflect.DeepEqual(got, s.then) {
				t.Fatalf("recorded %+v, want %+v", got, s.then)
			}
		})
	}
}

// RetainedSince is what a read model filters by; it must draw the line
// exactly where DecideExpire does.
func TestRetainedSinceAgreesWithExpiry(t *testing.T) {
	p := policyWith(func(p *Policy) { p.MessageRetentionS = 60; p.SenderWindowS = 60; p.AdminWindowS = 60 })
	m := given(t, sentToBob())
	for _, d := range []time.Duration{0, 59 * time.Second, 60 * time.Second, 60*time.Second + time.Millisecond, time.Hour} {
		now := t0.Add(d)
		_, expires := DecideExpire(m, p, now)
		hidden := m.SentAt.Time().Before(p.RetainedSince(now))
		if expires != hidden {
			t.Errorf("at sent_at+%v: DecideExpire %v, RetainedSince hides %v", d, expires, hidden)
		}
	}
}

func TestDecideRead(t *testing.T) {
	read := func(reader UserID) ReadCommand { return ReadCommand{MsgID: "m1", Reader: reader, Platform: "ios"} }
	scenarios := []struct {
		name    string
		given   []recorded
		when    ReadCommand
		then    []Payload
		refusal string // the error code, or "not found"
	}{
		{"the first read by the recipient is recorded", []recorded{sentToBob()}, read("bob"), []Payload{MessageRead{MsgID: "m1", Reader: "bob", Platform: "ios"}}, ""},
		{"a repeated read records nothing", []recorded{sentToBob(), readBy(5, "bob")}, read("bob"), nil, ""},
		{"a read of a recalled message records nothing", []recorded{sentToBob(), recalledBy(5, "alice")}, read("bob"), nil, ""},
		{"a read of an expired message records nothing", []recorded{sentToBob(), expiredAt(5)}, read("bob"), nil, ""},
		{"the sender's own read records nothing", []recorded{sentToBob()}, read("alice"), nil, ""},
		{"a stranger may not read a one-to-one message", []recorded{sentToBob()}, read("mallory"), nil, "not_a_recipient"},
		{"any group member's read is recorded", []recorded{sentToGroup()}, read("anyone"), []Payload{MessageRead{MsgID: "m1", Reader: "anyone", Platform: "ios"}}, ""},
		{"a read of a missing message is not found", nil, read("bob"), nil, "not found"},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			got, err := DecideRead(s.when, given(t, s.given...))
			var inv *InvalidError
			var missing *NotFoundError
			switch {
			case s.refusal == "not found" && !errors.As(err, &missing),
				s.refusal != "" && s.refusal != "not found" && (!errors.As(err, &inv) || inv.Code != s.refusal),
				s.refusal == "" && err != nil:
				t.Fatalf("error %v, want refusal %q", err, s.refusal)
			}
			if !reflect.DeepEqual(got, s.then) {
				t.Fatalf("recorded %+v, want %+v", got, s.then)
			}
		})
	}
}
