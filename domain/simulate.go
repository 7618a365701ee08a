package domain

import (
	"slices"
	"strings"
	"time"
)

// A what-if replays the recall attempts recorded in a period against a
// proposed policy, with DecideRecall, the function that decides live
// recalls, and counts the outcomes that would change.
//
// Each message is rebuilt as it was at each attempt: its send, the reads
// recorded before the attempt, and the attempts before it. Attempts
// before the period keep their recorded outcomes (the policy then in
// force decided them); attempts inside it take the proposed policy's, so
// when a first attempt would now succeed, a second one on the same
// message becomes already_recalled. Expiry is decided by the proposed
// policy's retention (a recorded MessageExpired is the old policy's).
//
// What the log cannot tell is taken as recorded: whether a refused
// admin attempt asked for force (RecallRejected does not say; only an
// accepted forced recall is marked), and the recipient an attempt named
// (only a recipient_mismatch refusal says it did not match). Reads a
// recorded recall kept from being recorded cannot be known either.

// RecordedStep is one fact of a message's history that a replay needs: a
// read, or a recall attempt with its recorded outcome.
type RecordedStep struct {
	At Time
	// Reader is set for a read.
	Reader UserID
	// Attempt is set for a recall attempt.
	Attempt *RecordedRecall
}

// RecordedRecall is a recorded recall attempt: who asked, in which role,
// and what was decided ("recalled" or the refusal reason).
type RecordedRecall struct {
	Actor    UserID
	Role     ActorRole
	Platform string
	Forced   bool
	Outcome  string
}

// OutcomeRecalled is the outcome of an accepted recall, beside the
// refusal reasons.
const OutcomeRecalled = "recalled"

// Outcome is the decision as a simulation names it: "recalled" or the
// refusal reason.
func (d Decision) Outcome() string {
	if d.Recalled {
		return OutcomeRecalled
	}
	return string(d.Reason)
}

// MessageHistory is what the log holds of one message for a replay, its
// steps in log order. Exists is false for attempts on a message that was
// never sent (or whose send was purged).
type MessageHistory struct {
	MsgID  MsgID
	Exists bool
	Sent   MessageSent
	SentAt Time
	Steps  []RecordedStep
}

// Transition counts the attempts whose outcome would change from From to
// To, with a few of their messages as samples: those of the earliest such
// attempts, whatever order the messages were replayed in.
type Transition struct {
	From         string  `json:"from"`
	To           string  `json:"to"`
	Count        int     `json:"count"`
	SampleMsgIDs []MsgID `json:"sample_msg_ids"`

	samples []sample // by time, at most MaxSamples messages
}

type sample struct {
	at  Time
	msg MsgID
}

// MaxSamples bounds the sample message ids of a transition.
const MaxSamples = 10

// Simulation accumulates a what-if over many messages. The zero value is
// empty; feed it every message with an attempt in [From, To).
type Simulation struct {
	Policy   Policy
	From, To time.Time
	Attempts int
	Changed  int

	byPair map[[2]string]*Transition
}

// NewSimulation starts a what-if of p over [from, to).
func NewSimulation(p Policy, from, to time.Time) *Simulation {
	return &Simulation{Policy: p, From: from, To: to, byPair: map[[2]string]*Transition{}}
}

// mismatched stands for the recipient of an attempt recorded as
// recipient_mismatch: some name other than the message's.
const mismatched UserID = "\x00another recipient"

// Replay replays one message's history and counts its attempts inside the
// period.
func (s *Simulation) Replay(h MessageHistory) {
	m := Message{Exists: h.Exists, Sent: h.Sent, SentAt: h.SentAt}
	m.Sent.MsgID = h.MsgID
	for _, st := range h.Steps {
		at := st.At.Time()
		if !at.Before(s.To) {
			return
		}
		if st.Attempt == nil {
			if st.Reader != "" && !slices.Contains(m.ReadBy, st.Reader) {
				m.ReadBy = append(m.ReadBy, st.Reader)
			}
			continue
		}
		a := st.Attempt
		if at.Before(s.From) {
			// decided by the policy of its time, as recorded
			if a.Outcome == OutcomeRecalled {
				m.Recalled, m.RecalledAt, m.RecalledBy = true, st.At, a.Actor
			}
			continue
		}
		cmd := RecallCommand{MsgID: h.MsgID, Actor: a.Actor, Role: a.Role, Platform: a.Platform, Force: a.Forced}
		if a.Outcome == string(ReasonRecipientMismatch) {
			cmd.To = mismatched
		}
		d, _ := DecideRecall(cmd, m, s.Policy, at)
		s.count(h.MsgID, st.At, a.Outcome, d.Outcome())
		if d.Recalled {
			m.Recalled, m.RecalledAt, m.RecalledBy = true, st.At, a.Actor
		}
	}
}

func (s *Simulation) count(msg MsgID, at Time, was, now string) {
	s.Attempts++
	if was == now {
		return
	}
	s.Changed++
	k := [2]string{was, now}
	tr := s.byPair[k]
	if tr == nil {
		tr = &Transition{From: was, To: now}
		s.byPair[k] = tr
	}
	tr.Count++
	if slices.ContainsFunc(tr.samples, func(x sample) bool { return x.msg == msg }) {
		return
	}
	later := func(a, b sample) bool { return b.at.Before(a.at) || (a.at == b.at && a.msg > b.msg) }
	i := len(tr.samples)
	for i > 0 && later(tr.samples[i-1], sample{at, msg}) {
		i--
	}
	if i < MaxSamples {
		tr.samples = slices.Insert(tr.samples, i, sample{at, msg})
		if len(tr.samples) > MaxSamples {
			tr.samples = tr.samples[:MaxSamples]
		}
	}
}

// Transitions lists the changed outcomes, the most frequent first (ties
// by from, then to), so the same replay always lists them alike.
func (s *Simulation) Transitions() []Transition {
	out := make([]Transition, 0, len(s.byPair))
	for _, tr := range s.byPair {
		t := Transition{From: tr.From, To: tr.To, Count: tr.Count, SampleMsgIDs: make([]MsgID, len(tr.samples))}
		for i, x := range tr.samples {
			t.SampleMsgIDs[i] = x.msg
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b Transition) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		if c := strings.Compare(a.From, b.From); c != 0 {
			return c
		}
		return strings.Compare(a.To, b.To)
	})
	return out
}
