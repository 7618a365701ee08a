package synthetic

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/recallledger/recall/domain"
)

// Every history is one that the ledger could have recorded: a send, then
// maybe a read, then maybe one attempt decided as the rules decide it,
// its exposure the readers before it; and about as many attempts as the
// traffic asks.
func TestMessagesAreHistoriesTheRulesCouldHaveRecorded(t *testing.T) {
	tr := Traffic{Users: 20, Groups: 3, Content: "hi", AttemptsPercent: 30, MaxElapsed: 240 * time.Second, ForbiddenOneIn: 4}
	tn, _ := domain.ParseTenant("a/a")
	rng := rand.New(rand.NewPCG(1, 2))
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	const n = 4000
	attempts := 0
	for range n {
		stream, evs, attempted := tr.Message(rng, tn, at)
		var m domain.Message
		for _, e := range evs {
			if err := m.Apply(e); err != nil {
				t.Fatalf("%s: %v", stream, err)
			}
		}
		sent := evs[0].Data.(domain.MessageSent)
		if stream != domain.MessageStream(tn, sent.MsgID) || sent.From == sent.To {
			t.Fatalf("send %+v in %s", sent, stream)
		}
		for i := 1; i < len(evs); i++ {
			if evs[i].OccurredAt.Time().Before(evs[i-1].OccurredAt.Time()) {
				t.Fatalf("%s: event %d is older than the one before it", stream, i)
			}
		}
		var attempt domain.Event
		for _, e := range evs {
			if e.Type() == domain.TypeMessageRecalled || e.Type() == domain.TypeRecallRejected {
				attempt = e
			}
		}
		if (attempt.Data != nil) != attempted {
			t.Fatalf("%s: attempted %v, events %v", stream, attempted, evs)
		}
		elapsed := attempt.OccurredAt.Time().Sub(at)
		switch p := attempt.Data.(type) {
		case domain.MessageRecalled:
			if elapsed > 120*time.Second || p.Actor != sent.From || len(p.ReadBy) != len(m.ReadBy) || evs[len(evs)-1].Type() != domain.TypeMessageRecalled {
				t.Fatalf("recalled after %v by %s, exposure %v (readers %v)", elapsed, p.Actor, p.ReadBy, m.ReadBy)
			}
		case domain.RecallRejected:
			timeout := p.Reason == domain.ReasonExceedTimeLimit && elapsed > 120*time.Second && p.Actor == sent.From
			forbidden := p.Reason == domain.ReasonForbidden && elapsed <= 120*time.Second && p.Actor == "u0"
			if !timeout && !forbidden {
				t.Fatalf("refused %s after %v by %s", p.Reason, elapsed, p.Actor)
			}
		}
		if attempted {
			attempts++
		}
	}
	if attempts < n*25/100 || attempts > n*35/100 {
		t.Fatalf("%d attempts in %d messages, want about 30%%", attempts, n)
	}
}
