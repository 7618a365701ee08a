package domain

import (
	"fmt"
	"testing"
	"time"
)

// historyBuilder records a message's life by deciding each attempt with the
// policy in force, as the live ledger does, and returns what the log
// then holds for a replay.
type historyBuilder struct {
	t      *testing.T
	policy Policy
	m      Message
	h      MessageHistory
}

var simT0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

func recordedSend(t *testing.T, id MsgID, chat ChatType, from, to UserID, p Policy, at time.Time) *historyBuilder {
	s := MessageSent{MsgID: id, ChatType: chat, From: from, To: to, MsgType: "txt", ConversationID: ConversationID(chat, from, to)}
	b := &historyBuilder{t: t, policy: p, m: Message{next: 1, Exists: true, Sent: s, SentAt: NewTime(at)}}
	b.h = MessageHistory{MsgID: id, Exists: true, Sent: s, SentAt: NewTime(at)}
	return b
}

func (b *historyBuilder) read(reader UserID, at time.Time) *historyBuilder {
	b.m.ReadBy = append(b.m.ReadBy, reader)
	b.h.Steps = append(b.h.Steps, RecordedStep{At: NewTime(at), Reader: reader})
	return b
}

// recall decides an attempt with the builder's policy and records it.
func (b *historyBuilder) recall(actor UserID, role ActorRole, at time.Time) *historyBuilder {
	d, _ := DecideRecall(RecallCommand{MsgID: b.h.MsgID, Actor: actor, Role: role, Platform: "ios"}, b.m, b.policy, at)
	if d.Recalled {
		b.m.Recalled = true
	}
	b.h.Steps = append(b.h.Steps, RecordedStep{At: NewTime(at), Attempt: &RecordedRecall{Actor: actor, Role: role, Platform: "ios", Outcome: d.Outcome()}})
	return b
}

func mustPolicy(t *testing.T, spec PolicySpec) Policy {
	t.Helper()
	p, err := NewPolicy(spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func i64(v int64) *int64 { return &v }
func yes() *bool         { v := true; return &v }
func no() *bool          { v := false; return &v }

func summary(s *Simulation) string {
	out := fmt.Sprintf("%d/%d", s.Changed, s.Attempts)
	for _, tr := range s.Transitions() {
		out += fmt.Sprintf(" %s>%s:%d", tr.From, tr.To, tr.Count)
	}
	return out
}

func TestSimulationReplaysRecordedAttemptsWithTheDecider(t *testing.T) {
	def := DefaultPolicy()
	from, to := simT0, simT0.Add(30*24*time.Hour)
	day := func(n int) time.Time { return simT0.Add(time.Duration(n) * 24 * time.Hour) }
	sec := func(base time.Time, s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	// recorded under the default policy (120 s sender window, no block after read)
	histories := func() []MessageHistory {
		var out []MessageHistory
		// m-late: alice tries at 150 s (timeout), again at 200 s (timeout)
		out = append(out, recordedSend(t, "m-late", ChatSingle, "alice", "bob", def, day(1)).recall("alice", ActorMember, sec(day(1), 150)).recall("alice", ActorMember, sec(day(1), 200)).h)
		// m-read: read by bob at 10 s, recalled by alice at 60 s
		out = append(out, recordedSend(t, "m-read", ChatSingle, "alice", "bob", def, day(2)).read("bob", sec(day(2), 10)).recall("alice", ActorMember, sec(day(2), 60)).h)
		// m-unread: recalled at 30 s, nobody read it
		out = append(out, recordedSend(t, "m-unread", ChatSingle, "alice", "carol", def, day(3)).recall("alice", ActorMember, sec(day(3), 30)).h)
		// m-stranger: bob may not recall alice's message, whatever the window
		out = append(out, recordedSend(t, "m-stranger", ChatSingle, "alice", "bob", def, day(4)).recall("bob", ActorMember, sec(day(4), 5)).h)
		// m-group: a group admin recalls after 2 hours (admin window 24 h)
		out = append(out, recordedSend(t, "m-group", ChatGroup, "alice", "team", def, day(5)).recall("gadmin", ActorGroupAdmin, sec(day(5), 7200)).h)
		return out
	}
	for _, tc := range []struct {
		name   string
		policy Policy
		want   string
	}{
		{"the policy that decided them changes nothing", def, "0/6"},
		{"a 300 s window lets both timeouts through, the second then finds it recalled", mustPolicy(t, PolicySpec{SenderWindowS: i64(300)}),
			"2/6 exceed_time_limit>already_recalled:1 exceed_time_limit>recalled:1"},
		{"block after read refuses the recall of a read message only", mustPolicy(t, PolicySpec{BlockAfterRead: yes()}),
			"1/6 recalled>read_by_recipient:1"},
		{"a 20 s window times out the 30 s and 60 s recalls", mustPolicy(t, PolicySpec{SenderWindowS: i64(20)}),
			"2/6 recalled>exceed_time_limit:2"},
		{"a 1 h admin window times out the group admin", mustPolicy(t, PolicySpec{AdminWindowS: i64(3600)}),
			"1/6 recalled>exceed_time_limit:1"},
		{"recall disabled refuses everything, the stranger included", mustPolicy(t, PolicySpec{RecallEnabled: no()}),
			"6/6 recalled>service_disabled:3 exceed_time_limit>service_disabled:2 forbidden>service_disabled:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSimulation(tc.policy, from, to)
			for _, h := range histories() {
				s.Replay(h)
			}
			if got := summary(s); got != tc.want {
				t.Errorf("got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestSimulationCountsOnlyThePeriodAndKeepsEarlierOutcomes(t *testing.T) {
	def := DefaultPolicy()
	longer := mustPolicy(t, PolicySpec{SenderWindowS: i64(300)})
	// timed out at 150 s on day 0, before the period; again at 250 s... the
	// second attempt is in the period
	at := simT0.Add(-time.Hour)
	h := recordedSend(t, "m-1", ChatSingle, "alice", "bob", def, at).recall("alice", ActorMember, at.Add(150*time.Second)).h
	s := NewSimulation(longer, simT0, simT0.Add(time.Hour))
	s.Replay(h)
	if s.Attempts != 0 {
		t.Fatalf("an attempt before the period counted: %s", summary(s))
	}
	// recalled before the period: an attempt inside it stays already_recalled
	h2 := recordedSend(t, "m-2", ChatSingle, "alice", "bob", def, at).recall("alice", ActorMember, at.Add(10*time.Second)).recall("alice", ActorMember, simT0.Add(time.Minute)).h
	s.Replay(h2)
	if got := summary(s); got != "0/1" {
		t.Fatalf("attempt after an earlier recall: %s", got)
	}
	// the end of the period is exclusive
	h3 := recordedSend(t, "m-3", ChatSingle, "alice", "bob", def, simT0.Add(time.Hour-time.Minute)).recall("alice", ActorMember, simT0.Add(time.Hour)).h
	s.Replay(h3)
	if s.Attempts != 1 {
		t.Fatalf("an attempt at the period's end counted: %s", summary(s))
	}
}

func TestSimulationDecidesExpiryByTheProposedRetention(t *testing.T) {
	def := DefaultPolicy()
	// an admin recall 2 days after the send, under a 1-day retention
	short := mustPolicy(t, PolicySpec{MessageRetentionS: i64(86400), AdminWindowS: i64(3600), AuditRetentionS: i64(86400)})
	h := recordedSend(t, "m-1", ChatGroup, "alice", "team", def, simT0).recall("admin", ActorTenantAdmin, simT0.Add(2*time.Hour)).h
	s := NewSimulation(short, simT0, simT0.Add(3*24*time.Hour))
	s.Replay(h)
	if got := summary(s); got != "1/1 recalled>exceed_time_limit:1" {
		t.Fatalf("got %s", got)
	}
	h = recordedSend(t, "m-2", ChatGroup, "alice", "team", def, simT0).recall("admin", ActorTenantAdmin, simT0.Add(25*time.Hour)).h
	s = NewSimulation(short, simT0, simT0.Add(3*24*time.Hour))
	s.Replay(h)
	// recorded as a timeout (past the 24 h admin window); under a 1-day
	// retention it would have expired first
	if got := summary(s); got != "1/1 exceed_time_limit>expired:1" {
		t.Fatalf("got %s", got)
	}
}

func TestSimulationKeepsWhatTheLogSaysOfRecipientsAndMissingMessages(t *testing.T) {
	def := DefaultPolicy()
	longer := mustPolicy(t, PolicySpec{SenderWindowS: i64(300)})
	mismatch := MessageHistory{MsgID: "m-1", Exists: true, Sent: MessageSent{From: "alice", To: "bob", ChatType: ChatSingle, MsgType: "txt"}, SentAt: NewTime(simT0),
		Steps: []RecordedStep{{At: NewTime(simT0.Add(time.Minute)), Attempt: &RecordedRecall{Actor: "admin", Role: ActorTenantAdmin, Outcome: string(ReasonRecipientMismatch)}}}}
	missing := MessageHistory{MsgID: "m-gone", Steps: []RecordedStep{{At: NewTime(simT0.Add(time.Minute)), Attempt: &RecordedRecall{Actor: "alice", Role: ActorMember, Outcome: string(ReasonNotFound)}}}}
	s := NewSimulation(longer, simT0, simT0.Add(time.Hour))
	s.Replay(mismatch)
	s.Replay(missing)
	if got := summary(s); got != "0/2" {
		t.Fatalf("got %s", got)
	}
	_ = def
}

func TestSimulationSamplesAtMostTenMessagesPerTransition(t *testing.T) {
	def := DefaultPolicy()
	s := NewSimulation(mustPolicy(t, PolicySpec{SenderWindowS: i64(300)}), simT0, simT0.Add(24*time.Hour))
	for i := range 25 {
		at := simT0.Add(time.Duration(i) * time.Minute)
		s.Replay(recordedSend(t, MsgID(fmt.Sprintf("m-%02d", i)), ChatSingle, "alice", "bob", def, at).recall("alice", ActorMember, at.Add(200*time.Second)).h)
	}
	tr := s.Transitions()
	if len(tr) != 1 || tr[0].Count != 25 || len(tr[0].SampleMsgIDs) != MaxSamples || tr[0].SampleMsgIDs[0] != "m-00" {
		t.Fatalf("transitions %+v", tr)
	}
}
