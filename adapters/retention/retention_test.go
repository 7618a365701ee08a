package retention_test

import (
	"context"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/adapters/readmodel/readmodeltest"
	"github.com/recallledger/recall/adapters/retention"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
)

// retentionRig is an embedded store with the audit log beside it, fed
// only when the test says, a ledger on a clock the test advances, and
// tenant acme/chat with two days of audit retention.
type retentionRig struct {
	t      *testing.T
	clock  *clocktest.Clock
	store  *embedded.Store
	rm     *readmodel.Store
	runner *projections.Runner
	l      *ledger.Service
	tn     domain.Tenant
}

func newRetentionRig(t *testing.T, retentionS int64) *retentionRig {
	dir := t.TempDir()
	r := &retentionRig{t: t, clock: clocktest.New(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))}
	stores := readmodeltest.OpenStores(t, dir, auditlog.Projection{})
	r.store, r.rm, r.runner = stores.Events, stores.Models, stores.Runners[0]
	r.l = ledger.New(r.store, r.clock)
	r.tn, _ = domain.ParseTenant("acme/chat")
	p, err := domain.NewPolicy(domain.PolicySpec{AuditRetentionS: &retentionS, MessageRetentionS: &retentionS})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.l.SetPolicy(context.Background(), r.tn, p, "admin"); err != nil {
		t.Fatal(err)
	}
	return r
}

// feed hands the audit log every stored event.
func (r *retentionRig) feed() {
	r.t.Helper()
	evs, err := r.store.ReadAll(context.Background(), 0, "", 100000)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, e := range evs {
		if err := r.runner.Handle(e); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *retentionRig) send(tn domain.Tenant, content string) domain.MsgID {
	r.t.Helper()
	cmd, _ := domain.NewSendCommand("alice", "bob", "chat", "txt", content, "", "")
	res, err := r.l.Send(context.Background(), tn, cmd)
	if err != nil {
		r.t.Fatal(err)
	}
	return res.MsgID
}

func TestRetentionRemovesOldHistoryAndRebuildStillMatches(t *testing.T) {
	ctx := context.Background()
	twoDays := int64(2 * 86400)
	r := newRetentionRig(t, twoDays)
	clock, store, rm, runner, l, tn := r.clock, r.store, r.rm, r.runner, r.l, r.tn
	feed, send := r.feed, r.send
	dump := func() string { return readmodeltest.Dump(t, rm, auditlog.Name) }
	other, _ := domain.ParseTenant("other/chat")
	old := send(tn, "old")
	send(other, "another tenant's, default 180-day retention")
	clock.Advance(time.Second)
	rc, _ := domain.NewRecallCommand(string(old), "alice", "", "", "", "")
	if _, err := l.Recall(ctx, tn, rc); err != nil {
		t.Fatal(err)
	}
	clock.Advance(36 * time.Hour)
	recent := send(tn, "recent")
	feed()

	res, err := retention.Apply(ctx, rm, store, nil, domain.NoHolds{}, tn.String(), clock.Now())
	if err != nil || res.Entries != 0 || res.Events != 0 {
		t.Fatalf("within retention: %+v %v", res, err)
	}
	clock.Advance(24 * time.Hour)
	res, err = retention.Apply(ctx, rm, store, nil, domain.NoHolds{}, tn.String(), clock.Now())
	if err != nil || res.Entries != 3 || res.Events != 2 {
		t.Fatalf("purge: %+v %v; want 3 entries (policy, send, recall) and 2 events (the policy event stays)", res, err)
	}
	evs, _ := store.ReadAll(ctx, 0, tn.String(), 100)
	if len(evs) != 2 || evs[0].Type() != domain.TypeTenantPolicySet || evs[1].Type() != domain.TypeMessageSent {
		t.Fatalf("tenant's events after purge: %+v", evs)
	}
	if evs, _ := store.ReadAll(ctx, 0, other.String(), 100); len(evs) != 1 {
		t.Fatalf("the other tenant lost events: %d", len(evs))
	}
	if m, _ := l.Message(ctx, tn, old); m.Exists {
		t.Fatal("the purged message still reads back")
	}
	if m, _ := l.Message(ctx, tn, recent); !m.Exists {
		t.Fatal("a message within retention was purged")
	}
	if pol, _ := ledger.New(store, clock).Policy(ctx, tn); pol.AuditRetentionS != twoDays || pol.Version != 1 {
		t.Fatalf("policy after purge: %+v", pol)
	}
	if again, err := retention.Apply(ctx, rm, store, nil, domain.NoHolds{}, tn.String(), clock.Now()); err != nil || again.Entries != 0 || again.Events != 0 {
		t.Fatalf("second run: %+v %v", again, err)
	}
	live := dump()
	if v, _ := auditlog.Verify(rm, tn.String()); !v.OK || v.Entries != 1 || v.Anchor != 3 {
		t.Fatalf("verify after purge: %+v", v)
	}

	// a rebuild from what the store still holds gives the same bytes
	if err := runner.Reset(); err != nil {
		t.Fatal(err)
	}
	feed()
	if rebuilt := dump(); rebuilt != live {
		t.Fatalf("rebuild after purge differs:\n%s---\n%s", rebuilt, live)
	}
	if v, _ := auditlog.Verify(rm, tn.String()); !v.OK || v.Entries != 1 {
		t.Fatalf("verify after rebuild: %+v", v)
	}

	// a crash after the read-model purge but before the store's: the next
	// run finishes the store
	clock.Advance(3 * 24 * time.Hour)
	if n, _, err := auditlog.Purge(rm, tn.String(), clock.Now()); err != nil || n != 1 {
		t.Fatalf("read-model purge alone: %d %v", n, err)
	}
	res, err = retention.Apply(ctx, rm, store, nil, domain.NoHolds{}, tn.String(), clock.Now())
	if err != nil || res.Entries != 0 || res.Events != 1 {
		t.Fatalf("catch-up run: %+v %v", res, err)
	}
	if m, _ := l.Message(ctx, tn, recent); m.Exists {
		t.Fatal("the store kept an event whose entry was purged")
	}
}
