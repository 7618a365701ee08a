package readmodel_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/recallhistory"
)

// fromTheLog is the what-if computed straight from the event log: every
// message's stream read and turned into the history a replay needs. The
// read model must give the same answer without reading the log.
func fromTheLog(t *testing.T, w *world, p domain.Policy, from, to time.Time) *domain.Simulation {
	t.Helper()
	ctx := context.Background()
	evs, err := w.store.ReadAll(ctx, 0, w.tenant.String(), 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	histories := map[domain.MsgID]*domain.MessageHistory{}
	var order []domain.MsgID
	hist := func(id domain.MsgID) *domain.MessageHistory {
		h, ok := histories[id]
		if !ok {
			h = &domain.MessageHistory{MsgID: id}
			histories[id] = h
		}
		return h
	}
	attempted := map[domain.MsgID]bool{}
	for _, e := range evs {
		switch p := e.Data.(type) {
		case domain.MessageSent:
			h := hist(p.MsgID)
			h.Exists, h.Sent, h.SentAt = true, p, e.OccurredAt
		case domain.MessageRead:
			h := hist(p.MsgID)
			h.Steps = append(h.Steps, domain.RecordedStep{At: e.OccurredAt, Reader: p.Reader})
		case domain.MessageRecalled:
			h := hist(p.MsgID)
			h.Steps = append(h.Steps, domain.RecordedStep{At: e.OccurredAt, Attempt: &domain.RecordedRecall{Actor: p.Actor, Role: p.ActorRole, Platform: p.Platform, Forced: p.Forced, Outcome: domain.OutcomeRecalled}})
		case domain.RecallRejected:
			h := hist(p.MsgID)
			h.Steps = append(h.Steps, domain.RecordedStep{At: e.OccurredAt, Attempt: &domain.RecordedRecall{Actor: p.Actor, Role: p.ActorRole, Platform: p.Platform, Outcome: string(p.Reason)}})
		default:
			continue
		}
		if id, ok := attemptOn(e); ok {
			if at := e.OccurredAt.Time(); !at.Before(from) && at.Before(to) && !attempted[id] {
				attempted[id] = true
				order = append(order, id)
			}
		}
	}
	sim := domain.NewSimulation(p, from, to)
	for _, id := range order {
		sim.Replay(*histories[id])
	}
	return sim
}

// attemptOn returns the message a recall attempt is about, and false for
// an event that is no attempt.
func attemptOn(e domain.Event) (domain.MsgID, bool) {
	switch p := e.Data.(type) {
	case domain.MessageRecalled:
		return p.MsgID, true
	case domain.RecallRejected:
		return p.MsgID, true
	}
	return "", false
}

func simSummary(s *domain.Simulation) string {
	out := fmt.Sprintf("%d/%d", s.Changed, s.Attempts)
	for _, tr := range s.Transitions() {
		out += fmt.Sprintf(" %s>%s:%d%v", tr.From, tr.To, tr.Count, tr.SampleMsgIDs)
	}
	return out
}

// writeRecallAttempts records 300 messages of four users over a few
// days, read or not, each tried from none to two times by its sender, a
// group admin or another member, with now and then an attempt on a
// message that does not exist; ten days on, an admin tries the first ten
// messages again (their histories lie far before that day). It returns
// those ten.
func writeRecallAttempts(t *testing.T, w *world, clock *clocktest.Clock) (early []domain.MsgID) {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	users := []string{"alice", "bob", "carol", "dave"}
	recall := func(id domain.MsgID, actor domain.UserID, role domain.ActorRole, platform string) {
		t.Helper()
		if _, err := w.l.Recall(ctx, w.tenant, domain.RecallCommand{MsgID: id, Actor: actor, Role: role, Platform: platform}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 300 {
		clock.Advance(time.Duration(1+rng.IntN(600)) * time.Second)
		from, to, chat := users[rng.IntN(4)], users[rng.IntN(4)], "chat"
		if from == to || rng.IntN(4) == 0 {
			to, chat = "team", "groupchat"
		}
		cmd, err := domain.NewSendCommand(from, to, chat, "txt", "hi", "ios", fmt.Sprint("c", i))
		if err != nil {
			t.Fatal(err)
		}
		sent, err := w.l.Send(ctx, w.tenant, cmd)
		if err != nil {
			t.Fatal(err)
		}
		if i < 10 {
			early = append(early, sent.MsgID)
		}
		if rng.IntN(2) == 0 {
			clock.Advance(time.Duration(rng.IntN(90)) * time.Second)
			reader := domain.UserID(to)
			if chat == "groupchat" {
				reader = domain.UserID(users[rng.IntN(4)])
			}
			if _, err := w.l.Read(ctx, w.tenant, domain.ReadCommand{MsgID: sent.MsgID, Reader: reader, Platform: "web"}); err != nil {
				t.Fatal(err)
			}
		}
		for range rng.IntN(3) {
			clock.Advance(time.Duration(rng.IntN(200)) * time.Second)
			actor, role := domain.UserID(from), domain.ActorMember
			switch rng.IntN(6) {
			case 0:
				actor = domain.UserID(users[rng.IntN(4)])
			case 1:
				role = domain.ActorGroupAdmin
			}
			recall(sent.MsgID, actor, role, "ios")
		}
		if rng.IntN(20) == 0 { // an attempt on a message that does not exist
			recall(domain.MsgID(uuid.NewString()), "alice", domain.ActorMember, "ios")
		}
	}
	clock.Advance(10 * 24 * time.Hour)
	for _, id := range early {
		recall(id, "admin", domain.ActorTenantAdmin, "web")
	}
	return early
}

func TestWhatIfFromTheReadModelEqualsReplayingTheLog(t *testing.T) {
	clock := clocktest.New(start)
	w := newWorld(t, t.TempDir(), clock)
	defer w.close()
	ctx := context.Background()
	early := writeRecallAttempts(t, w, clock)
	w.feed()
	// the same events fed in one batch, as a rebuild feeds them: a first
	// attempt moves steps written earlier in the same batch
	all, err := w.store.ReadAll(ctx, 0, "", 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	batched := feedOne(t, recallhistory.Projection{})
	if err := batched.r.HandleBatch(projections.Batch{Events: all}); err != nil {
		t.Fatal(err)
	}
	seconds := func(v int64) *int64 { return &v }
	on := true
	whole := [2]time.Time{start, clock.Now().Add(time.Second)}
	busy := clock.Now().Add(-10 * 24 * time.Hour).Sub(start)
	half := [2]time.Time{start.Add(busy / 3), start.Add(2 * busy / 3)}
	lastDay := [2]time.Time{clock.Now().Add(-24 * time.Hour), clock.Now().Add(time.Second)}
	for name, spec := range map[string]domain.PolicySpec{
		"as recorded":       {},
		"a longer window":   {SenderWindowS: seconds(180)},
		"a shorter window":  {SenderWindowS: seconds(30)},
		"block after read":  {BlockAfterRead: &on},
		"a short admin one": {AdminWindowS: seconds(60)},
		"bob may not":       {DenyRecallUsers: []string{"bob"}},
		"a long retention":  {MessageRetentionS: seconds(30 * 86400), AuditRetentionS: seconds(30 * 86400)},
	} {
		p, err := domain.NewPolicy(spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, period := range [][2]time.Time{whole, half, lastDay} {
			got, err := recallhistory.Simulate(w.rm, w.tenant.String(), p, period[0], period[1])
			if err != nil {
				t.Fatal(err)
			}
			want := fromTheLog(t, w, p, period[0], period[1])
			if simSummary(got) != simSummary(want) {
				t.Errorf("%s over %v: the read model says\n%s\nthe log says\n%s", name, period, simSummary(got), simSummary(want))
			}
			inOne, err := recallhistory.Simulate(batched.rm, w.tenant.String(), p, period[0], period[1])
			if err != nil {
				t.Fatal(err)
			}
			if simSummary(inOne) != simSummary(got) {
				t.Errorf("%s over %v: fed in one batch it says\n%s\nfed event by event\n%s", name, period, simSummary(inOne), simSummary(got))
			}
			if name == "as recorded" && got.Changed != 0 {
				t.Errorf("replaying with the policy that decided them changed %d outcomes: %s", got.Changed, simSummary(got))
			}
			if got.Attempts == 0 {
				t.Fatalf("%s: no attempts in %v: the test proves nothing", name, period)
			}
			if period == lastDay && got.Attempts != len(early) {
				t.Errorf("%s: the last day holds %d attempts, want the %d on early messages", name, got.Attempts, len(early))
			}
		}
	}
}

func TestWhatIfIsBounded(t *testing.T) {
	rm, err := readmodel.Open(filepath.Join(t.TempDir(), "rm"))
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	p := domain.DefaultPolicy()
	for _, period := range [][2]time.Time{{start, start}, {start, start.Add(-time.Hour)}, {start, start.Add(94 * 24 * time.Hour)}} {
		if _, err := recallhistory.Simulate(rm, "acme/chat", p, period[0], period[1]); err == nil {
			t.Errorf("period %v accepted", period)
		}
	}
}

// BenchmarkSimulate30DaysOf100kAttempts is the what-if's own cost: 100,000
// recall attempts (on 100,000 messages, half of them read) over 30 days,
// replayed from the read model.
func BenchmarkSimulate30DaysOf100kAttempts(b *testing.B) {
	fed := feedOne(b, recallhistory.Projection{})
	tn, _ := domain.ParseTenant("acme/chat")
	const n = 100_000
	step := 30 * 24 * time.Hour / n
	for i := range n {
		at := start.Add(time.Duration(i) * step)
		id := domain.MsgID(uuid.NewString())
		fed.add(tn, at, domain.MessageSent{MsgID: id, ChatType: domain.ChatSingle, From: "alice", To: "bob", MsgType: "txt"})
		if i%2 == 0 {
			fed.add(tn, at.Add(time.Second), domain.MessageRead{MsgID: id, Reader: "bob"})
		}
		elapsed := int64(i%240) * 1000
		if elapsed > 120_000 {
			fed.add(tn, at.Add(time.Duration(elapsed)*time.Millisecond), domain.RecallRejected{MsgID: id, Actor: "alice", ActorRole: domain.ActorMember, Reason: domain.ReasonExceedTimeLimit, ElapsedMs: elapsed})
		} else {
			fed.add(tn, at.Add(time.Duration(elapsed)*time.Millisecond), domain.MessageRecalled{MsgID: id, Actor: "alice", ActorRole: domain.ActorMember, ElapsedMs: elapsed})
		}
	}
	fed.flush()
	rm := fed.rm
	on := true
	longer := int64(300)
	p, _ := domain.NewPolicy(domain.PolicySpec{SenderWindowS: &longer, BlockAfterRead: &on})
	b.ResetTimer()
	for b.Loop() {
		sim, err := recallhistory.Simulate(rm, tn.String(), p, start, start.Add(31*24*time.Hour))
		if err != nil || sim.Attempts != n {
			b.Fatalf("%v %d", err, sim.Attempts)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "attempts/s")
}
