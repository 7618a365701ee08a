package expiry

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/domain/ledger"
)

// TestRecallExpireReadAndBatchRaceOnOneMessage: a sender's recall, a group
// admin's recall, an admin batch, the expiry and reads all hit one message
// at once, many times. Exactly one of recall or expiry wins; every other
// attempt is refused with the reason the winner implies; nothing is
// recorded twice.
func TestRecallExpireReadAndBatchRaceOnOneMessage(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	r := newRig(t, t.TempDir(), clock)
	defer r.close()
	tn, _ := domain.ParseTenant("race/app")
	ret, win := int64(60), int64(60)
	p, _ := domain.NewPolicy(domain.PolicySpec{MessageRetentionS: &ret, SenderWindowS: &win, AdminWindowS: &win})
	if _, err := r.l.SetPolicy(ctx, tn, p, "test"); err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		cmd, _ := domain.NewSendCommand("alice", "g1", "groupchat", "txt", fmt.Sprint("m", round), "", "")
		sent, err := r.l.Send(ctx, tn, cmd)
		if err != nil {
			t.Fatal(err)
		}
		// exactly at the window: recall still allowed; the expiry fires 1 ms later
		clock.Advance(60 * time.Second)
		recalled, expiries, refusals := race(t, r, clock, tn, sent.MsgID)
		m, err := r.l.Message(ctx, tn, sent.MsgID)
		if err != nil {
			t.Fatal(err)
		}
		if recalled > 1 || expiries > 1 || m.Recalled != (recalled == 1) || m.Expired != (expiries == 1) {
			t.Fatalf("round %d: %d recalls and %d expiries won; state recalled=%v expired=%v", round, recalled, expiries, m.Recalled, m.Expired)
		}
		for _, reason := range refusals {
			if reason != domain.ReasonAlreadyRecalled && reason != domain.ReasonExpired && reason != domain.ReasonExceedTimeLimit {
				t.Fatalf("round %d: a losing attempt was refused with %s", round, reason)
			}
		}
		if recalled+expiries == 0 {
			t.Fatalf("round %d: neither a recall nor the expiry won: %v", round, refusals)
		}
		// every attempt and every expiry is one event, none doubled
		kinds := map[string]int{}
		for _, e := range mustRead(t, r, tn, sent.MsgID) {
			kinds[e.Type()]++
		}
		if kinds[domain.TypeMessageRecalled]+kinds[domain.TypeRecallRejected] != 12 || kinds[domain.TypeMessageExpired] != expiries {
			t.Fatalf("round %d: events %v", round, kinds)
		}
	}
}

// race runs, all at once, four recalls by the sender and four by group admins,
// four admin batch recalls, four expiries (the first moves the clock past
// retention) and eight reads of one message, and counts what won.
func race(t *testing.T, r *rig, clock *clocktest.Clock, tn domain.Tenant, id domain.MsgID) (recalled, expiries int, refusals []domain.Reason) {
	ctx := context.Background()
	var wg sync.WaitGroup
	outcomes := make(chan domain.Decision, 64)
	expired := make(chan bool, 8)
	for i := range 24 {
		wg.Go(func() {
			switch i % 6 {
			case 0, 1:
				actor, role := "alice", ""
				if i%6 == 1 {
					actor, role = fmt.Sprint("admin", i), "group_admin"
				}
				c, _ := domain.NewRecallCommand(string(id), actor, role, "", "", "")
				o, err := r.l.Recall(ctx, tn, c)
				if err != nil {
					t.Error(err)
				}
				outcomes <- o.Decision
			case 2:
				outs, err := r.l.BatchRecall(ctx, tn, []ledger.BatchItem{{MsgID: id, To: "g1", ChatType: "groupchat"}}, "admin-api", "")
				if err != nil {
					t.Error(err)
					return
				}
				outcomes <- outs[0].Decision
			case 3:
				if i == 3 {
					clock.Advance(time.Millisecond) // now past retention
				}
				ok, err := r.l.Expire(ctx, tn, id)
				if err != nil {
					t.Error(err)
				}
				expired <- ok
			default:
				c, _ := domain.NewReadCommand(string(id), fmt.Sprint("reader", i), "")
				if _, err := r.l.Read(ctx, tn, c); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	close(outcomes)
	close(expired)
	for d := range outcomes {
		if d.Recalled {
			recalled++
		} else {
			refusals = append(refusals, d.Reason)
		}
	}
	for ok := range expired {
		if ok {
			expiries++
		}
	}
	return recalled, expiries, refusals
}

func mustRead(t *testing.T, r *rig, tn domain.Tenant, id domain.MsgID) []domain.Event {
	t.Helper()
	evs, err := r.store.ReadStream(context.Background(), domain.MessageStream(tn, id))
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestPolicyChangesRacingRecalls: each decision records the policy version
// it used, and the window it applied is that version's.
func TestPolicyChangesRacingRecalls(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	r := newRig(t, t.TempDir(), clock)
	defer r.close()
	tn, _ := domain.ParseTenant("race/policy")
	windows := map[int64]int64{0: domain.DefaultSenderWindowS} // version -> sender window
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 30 {
			w := int64(100 + i)
			p, _ := domain.NewPolicy(domain.PolicySpec{SenderWindowS: &w})
			set, err := r.l.SetPolicy(ctx, tn, p, "admin")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			windows[set.Version] = w
			mu.Unlock()
		}
	}()
	var decisions []domain.Decision
	var dmu sync.Mutex
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				cmd, _ := domain.NewSendCommand("alice", "bob", "chat", "txt", fmt.Sprint(w, "-", i), "", "")
				sent, err := r.l.Send(ctx, tn, cmd)
				if err != nil {
					t.Error(err)
					return
				}
				c, _ := domain.NewRecallCommand(string(sent.MsgID), "alice", "", "", "", "")
				o, err := r.l.Recall(ctx, tn, c)
				if err != nil {
					t.Error(err)
					return
				}
				dmu.Lock()
				decisions = append(decisions, o.Decision)
				dmu.Unlock()
			}
		}()
	}
	wg.Wait()
	versions := map[int64]bool{}
	for _, d := range decisions {
		w, ok := windows[d.PolicyVersion]
		if !ok || d.WindowMs != w*1000 {
			t.Fatalf("decision %+v used window %d ms but policy version %d has %d s", d, d.WindowMs, d.PolicyVersion, w)
		}
		versions[d.PolicyVersion] = true
	}
	if len(decisions) != 60 {
		t.Fatalf("%d decisions, want 60", len(decisions))
	}
	t.Logf("60 recalls decided under %d different policy versions, each recording the window it applied", len(versions))
}
