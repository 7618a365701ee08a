package domain

import (
	"reflect"
	"testing"
	"time"
)

// The rules are told as scenarios: given the events a message's stream
// holds, when a command is decided at an instant, then these events are
// recorded, or the command is refused. The helpers here build the three
// parts; each test file is a table of them.

// t0 is when the message of every scenario is sent.
var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// at is the instant ms milliseconds after t0.
func at(ms int64) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// recorded is one event of a message's history: what it records and when
// (ms after t0).
type recorded struct {
	ms      int64
	payload Payload
}

// sentTo is m1, sent by alice at t0 to to, in a chat of that type.
func sentTo(chat ChatType, to UserID, typ MessageType) recorded {
	return recorded{0, MessageSent{MsgID: "m1", ConversationID: ConversationID(chat, "alice", to), ChatType: chat,
		From: "alice", To: to, MsgType: typ, Platform: "ios"}}
}

// sentToBob is m1, a text alice sent bob at t0.
func sentToBob() recorded { return sentTo(ChatSingle, "bob", "txt") }

// sentToGroup is m1, a text alice sent group g1 at t0.
func sentToGroup() recorded { return sentTo(ChatGroup, "g1", "txt") }

func readBy(ms int64, reader UserID) recorded {
	return recorded{ms, MessageRead{MsgID: "m1", Reader: reader, Platform: "ios"}}
}

func recalledBy(ms int64, actor UserID) recorded {
	return recorded{ms, MessageRecalled{MsgID: "m1", Actor: actor, ActorRole: ActorMember, ElapsedMs: ms, WindowMs: 120_000, ReadBy: []UserID{}}}
}

func expiredAt(ms int64) recorded {
	return recorded{ms, MessageExpired{MsgID: "m1", RetentionS: 60}}
}

// given is the state of a message whose stream holds history, in order,
// at versions 0, 1, …
func given(t *testing.T, history ...recorded) Message {
	t.Helper()
	return givenFrom(t, 0, history...)
}

// givenFrom is given for a stream whose events before version first are
// gone (the store's retention purge took them).
func givenFrom(t *testing.T, first int64, history ...recorded) Message {
	t.Helper()
	tn, _ := ParseTenant("a/a")
	var m Message
	for i, r := range history {
		e := NewEvent("e"+string(rune('0'+i)), tn, at(r.ms), r.payload)
		e.StreamVersion = first + int64(i)
		if err := m.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// policyWith is the default policy at version 3, changed by f.
func policyWith(f func(*Policy)) Policy {
	p := DefaultPolicy()
	p.Version = 3
	if f != nil {
		f(&p)
	}
	return p
}

// recall is the command by actor in role, from iOS.
func recall(actor UserID, role ActorRole) RecallCommand {
	return RecallCommand{MsgID: "m1", Actor: actor, Role: role, Platform: "ios"}
}

// outcome is what a recall records, given the command and the policy
// version it was decided under.
type outcome func(cmd RecallCommand, policyVersion int64) Payload

// recalled is an accepted recall with its elapsed time, window and
// exposure.
func recalled(elapsedMs, windowMs int64, exposure ...UserID) outcome {
	return func(cmd RecallCommand, v int64) Payload {
		return MessageRecalled{MsgID: cmd.MsgID, Actor: cmd.Actor, ActorRole: cmd.Role, Platform: cmd.Platform,
			ReasonText: cmd.ReasonText, RequestID: cmd.RequestID, ElapsedMs: elapsedMs, WindowMs: windowMs,
			PolicyVersion: v, ReadBy: append([]UserID{}, exposure...)}
	}
}

// forcedRecall is recalled, forced past the window by an admin.
func forcedRecall(elapsedMs, windowMs int64, exposure ...UserID) outcome {
	return func(cmd RecallCommand, v int64) Payload {
		r := recalled(elapsedMs, windowMs, exposure...)(cmd, v).(MessageRecalled)
		r.Forced = true
		return r
	}
}

// refused is a refused recall: the reason, elapsed time and window.
func refused(reason Reason, elapsedMs, windowMs int64) outcome {
	return func(cmd RecallCommand, v int64) Payload {
		return RecallRejected{MsgID: cmd.MsgID, Actor: cmd.Actor, ActorRole: cmd.Role, Platform: cmd.Platform,
			Reason: reason, ReasonText: cmd.ReasonText, RequestID: cmd.RequestID, ElapsedMs: elapsedMs,
			WindowMs: windowMs, PolicyVersion: v}
	}
}

// recallScenario is one rule of recall as a scenario.
type recallScenario struct {
	name   string
	given  []recorded
	policy Policy
	when   RecallCommand
	atMs   int64
	then   outcome
}

// check decides the scenario and holds the recorded event to its then,
// and the decision to the event it records.
func (s recallScenario) check(t *testing.T) {
	t.Helper()
	d, got := DecideRecall(s.when, given(t, s.given...), s.policy, at(s.atMs))
	want := s.then(s.when, s.policy.Version)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("recorded %T %+v\nwant     %T %+v", got, got, want, want)
	}
	tn, _ := ParseTenant("a/a")
	a, err := RecordedAttempt(NewEvent("x", tn, at(s.atMs), got))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, a.Decision) {
		t.Fatalf("decision %+v does not match the event, which records %+v", d, a.Decision)
	}
}
