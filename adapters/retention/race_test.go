package retention_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/adapters/readmodel/readmodeltest"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
)

// liveAudit is a ledger over a real embedded store whose audit log is fed
// by its runner the way the server feeds it, event by event, while the
// retention purge may run on another goroutine.
type liveAudit struct {
	t      *testing.T
	ctx    context.Context
	clock  *clocktest.Clock
	store  *embedded.Store
	rm     *readmodel.Store
	l      *ledger.Service
	runner *projections.Runner
	tn     domain.Tenant
	fed    uint64
	// audited lists the positions of the tenant's events the runner
	// applied: each must hold exactly one seq, in order, from 1.
	audited []uint64
}

func newLiveAudit(t *testing.T) *liveAudit {
	t.Helper()
	dir := t.TempDir()
	a := &liveAudit{t: t, ctx: context.Background(), clock: clocktest.New(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))}
	stores := readmodeltest.OpenStores(t, dir, auditlog.Projection{})
	a.store, a.rm, a.runner = stores.Events, stores.Models, stores.Runners[0]
	a.l = ledger.New(a.store, a.clock)
	a.tn, _ = domain.ParseTenant("acme/chat")
	return a
}

// feed applies every event appended since the last feed, then checks that
// the committed chain verifies: no state the purge and the runner leave
// between them may be broken, not only the last one.
func (a *liveAudit) feed() {
	a.t.Helper()
	evs, err := a.store.ReadAll(a.ctx, a.fed+1, "", 100000)
	if err != nil {
		a.t.Fatal(err)
	}
	for _, e := range evs {
		if err := a.runner.Handle(e); err != nil {
			a.t.Fatal(err)
		}
		a.fed = e.Position
		a.audited = append(a.audited, e.Position)
	}
	if v, err := auditlog.Verify(a.rm, a.tn.String()); err != nil || !v.OK {
		a.t.Fatalf("chain broken after applying up to %d: %+v %v", a.fed, v, err)
	}
}

func (a *liveAudit) setPolicy(keepRecalledContent bool) {
	a.t.Helper()
	day, hour := int64(86400), int64(3600)
	p, err := domain.NewPolicy(domain.PolicySpec{MessageRetentionS: &day, AuditRetentionS: &day, AdminWindowS: &hour,
		AuditKeepsRecalledContent: &keepRecalledContent})
	if err != nil {
		a.t.Fatal(err)
	}
	if _, err := a.l.SetPolicy(a.ctx, a.tn, p, "admin"); err != nil {
		a.t.Fatal(err)
	}
	a.feed()
}

func (a *liveAudit) send(content string) domain.MsgID {
	a.t.Helper()
	cmd, _ := domain.NewSendCommand("alice", "bob", "chat", "txt", content, "ios", "")
	res, err := a.l.Send(a.ctx, a.tn, cmd)
	if err != nil {
		a.t.Fatal(err)
	}
	a.feed()
	return res.MsgID
}

func (a *liveAudit) read(id domain.MsgID) {
	a.t.Helper()
	cmd, _ := domain.NewReadCommand(string(id), "bob", "android")
	if _, err := a.l.Read(a.ctx, a.tn, cmd); err != nil {
		a.t.Fatal(err)
	}
	a.feed()
}

func (a *liveAudit) recall(id domain.MsgID, actor string) {
	a.t.Helper()
	cmd, _ := domain.NewRecallCommand(string(id), actor, "", "ios", "", "")
	if _, err := a.l.Recall(a.ctx, a.tn, cmd); err != nil {
		a.t.Fatal(err)
	}
	a.feed()
}

// checkEverySeqOnce checks that the tenant's events took the seqs 1, 2, 3…
// in order, each one event's: the head's seq is the number of events
// applied (none reused, none skipped), and every event after the anchor
// still has its own entry (none lost, none overwritten by another).
func (a *liveAudit) checkEverySeqOnce(round int) {
	a.t.Helper()
	v, err := auditlog.Verify(a.rm, a.tn.String())
	if err != nil || !v.OK {
		a.t.Fatalf("round %d: chain broken: %+v %v", round, v, err)
	}
	if head := v.Anchor + v.Entries; head != uint64(len(a.audited)) {
		a.t.Fatalf("round %d: the head's seq is %d after %d events: seqs were reused or skipped", round, head, len(a.audited))
	}
	anchorPos, err := auditlog.Anchor(a.rm, a.tn.String())
	if err != nil {
		a.t.Fatal(err)
	}
	var kept []uint64
	for after := uint64(0); ; {
		page, err := auditlog.Query(a.rm, a.tn.String(), auditlog.Filter{After: after, Limit: 500})
		if err != nil {
			a.t.Fatal(err)
		}
		for _, e := range page.Entries {
			if want := a.audited[e.Seq-1]; e.Position != want {
				a.t.Fatalf("round %d: entry %d is the event at %d, not the one at %d", round, e.Seq, e.Position, want)
			}
			kept = append(kept, e.Position)
		}
		if after = page.NextCursor; after == 0 {
			break
		}
	}
	i, _ := slices.BinarySearch(a.audited, anchorPos+1)
	if want := a.audited[i:]; !slices.Equal(kept, want) {
		a.t.Fatalf("round %d: entries kept after the anchor at %d are the events %v, want %v", round, anchorPos, kept, want)
	}
}

// TestPurgeRacingLiveWritesKeepsTheChain: the audit retention purge runs on
// its own goroutine, as recalld's hourly job does, while sends, reads and
// recalls (accepted and refused, with recalled content kept in some rounds
// and dropped from the send entry in others) are applied live. Every
// committed state verifies, and after every round each event holds exactly
// one seq and every event after the anchor its entry.
func TestPurgeRacingLiveWritesKeepsTheChain(t *testing.T) {
	a := newLiveAudit(t)
	for round := range 8 {
		a.setPolicy(round%2 == 1) // rounds 0, 2, …: recalled content is dropped, rewriting its send entry
		purges, purged := a.liveRound(30)
		if purged == 0 {
			t.Fatalf("round %d: %d purges removed nothing; the test raced nothing", round, purges)
		}
		a.checkEverySeqOnce(round)
	}
}

// liveRound sends, reads and recalls n messages while the purge runs in a
// loop on another goroutine, and returns how many purges ran and how many
// entries they removed. The purge has stopped when it returns, even when a
// check failed.
func (a *liveAudit) liveRound(n int) (purges, purged int64) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	halt := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	defer halt()
	var nPurges, nPurged atomic.Int64
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// alternately everything (the head goes too) and all but the
			// last ten minutes (the head stays while entries go under it)
			now := a.clock.Now().Add(48 * time.Hour)
			if i%2 == 1 {
				now = a.clock.Now().Add(24*time.Hour - 10*time.Minute)
			}
			removed, _, err := auditlog.Purge(a.rm, a.tn.String(), now)
			if err != nil {
				a.t.Error(err)
				return
			}
			nPurged.Add(int64(removed))
			nPurges.Add(1)
		}
	})
	for i := range n {
		id := a.send("content of a message")
		if i%3 == 0 {
			a.read(id)
		}
		switch i % 4 {
		case 0, 1:
			a.recall(id, "alice") // accepted
		case 2:
			a.recall(id, "bob") // refused: not the sender
		}
		a.clock.Advance(time.Minute)
	}
	halt()
	return nPurges.Load(), nPurged.Load()
}
