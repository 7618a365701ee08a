package readmodel_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/projections/auditlog"
)

func TestPolicyAuditEntryNamesWhatChangedAndWho(t *testing.T) {
	w := newWorld(t, t.TempDir(), clocktest.New(start))
	defer w.close()
	ctx := context.Background()
	first, err := domain.NewPolicy(domain.PolicySpec{DenyRecallUsers: []string{"mallory"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.l.SetPolicy(ctx, w.tenant, first, "token:admin"); err != nil {
		t.Fatal(err)
	}
	second, _ := domain.NewPolicy(domain.PolicySpec{SenderWindowS: new(int64(300))})
	if _, err := w.l.SetPolicy(ctx, w.tenant, second, "operator:carol"); err != nil {
		t.Fatal(err)
	}
	w.feed()
	page, err := auditlog.Query(w.rm, w.tenant.String(), auditlog.Filter{Action: auditlog.ActionPolicy, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 2 {
		t.Fatalf("%d policy entries, want 2", len(page.Entries))
	}
	want := []struct{ actor, detail string }{
		{"token:admin", `v1: deny_recall_users: [] → ["mallory"]`},
		{"operator:carol", `v2: sender_window_s: 120 → 300; deny_recall_users: ["mallory"] → []`},
	}
	for i, e := range page.Entries {
		if e.Actor != want[i].actor || e.Detail != want[i].detail {
			t.Errorf("entry %d: actor %q detail %q, want %q %q", i, e.Actor, e.Detail, want[i].actor, want[i].detail)
		}
	}
	if res, err := auditlog.Verify(w.rm, w.tenant.String()); err != nil || !res.OK {
		t.Fatalf("chain: %+v %v", res, err)
	}
}

func TestPolicyAuditEntryOfAnEventWithoutChangesKeepsItsDetail(t *testing.T) {
	// events recorded before changes existed must rebuild to the same
	// entries, or their chain would no longer verify
	w := newWorld(t, t.TempDir(), clocktest.New(start))
	defer w.close()
	p := domain.DefaultPolicy()
	set := p.Next(p, "token:admin")
	set.Changes = nil
	ev := domain.NewEvent("0b4c6c1e-1d1f-4a43-9d55-5a7e2a1d0006", w.tenant, start, set)
	if _, err := w.store.Append(context.Background(), domain.TenantStream(w.tenant), domain.NoStream, []domain.Event{ev}); err != nil {
		t.Fatal(err)
	}
	w.feed()
	page, err := auditlog.Query(w.rm, w.tenant.String(), auditlog.Filter{Action: auditlog.ActionPolicy, Limit: 10})
	if err != nil || len(page.Entries) != 1 {
		t.Fatalf("%v %v", page, err)
	}
	if got := page.Entries[0].Detail; got != set.Policy.String() || !strings.HasPrefix(got, "v1 enabled=true") {
		t.Fatalf("detail %q, want the summary it always had, %q", got, set.Policy.String())
	}
}

func TestForcedRecallIsAuditedAsForced(t *testing.T) {
	clock := clocktest.New(start)
	w := newWorld(t, t.TempDir(), clock)
	defer w.close()
	forced := w.send("alice", "bob", "chat", "past the window")
	plain := w.send("alice", "bob", "chat", "within it")
	clock.Advance(25 * time.Hour)
	for _, c := range []struct {
		id    domain.MsgID
		force bool
	}{{forced, true}, {plain, false}} {
		out, err := w.l.Recall(context.Background(), w.tenant, domain.RecallCommand{MsgID: c.id, Actor: "admin", Role: domain.ActorTenantAdmin, Platform: "admin-api", Force: c.force})
		if err != nil {
			t.Fatal(err)
		}
		if out.Decision.Recalled != c.force {
			t.Fatalf("recall of %s (force %v): %+v", c.id, c.force, out.Decision)
		}
	}
	w.feed()
	page, err := auditlog.Query(w.rm, w.tenant.String(), auditlog.Filter{Action: auditlog.ActionRecall, Limit: 10})
	if err != nil || len(page.Entries) != 2 {
		t.Fatalf("%+v %v", page, err)
	}
	for _, e := range page.Entries {
		isForced := strings.Contains(e.Detail, "forced=true")
		if (e.MsgID == string(forced)) != isForced {
			t.Errorf("entry of %s (%s): detail %q", e.MsgID, e.Outcome, e.Detail)
		}
	}
	if res, err := auditlog.Verify(w.rm, w.tenant.String()); err != nil || !res.OK {
		t.Fatalf("chain: %+v %v", res, err)
	}
}
