package retention_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recallledger/recall/adapters/retention"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections/auditlog"
)

func (r *retentionRig) placeHold(scope, id string) string {
	r.t.Helper()
	cmd, err := domain.NewPlaceHold(r.tn, uuid.NewString(), scope, id, nil, nil, "CASE-1", "", "token:admin")
	if err != nil {
		r.t.Fatal(err)
	}
	h, err := r.l.PlaceHold(context.Background(), r.tn, cmd)
	if err != nil {
		r.t.Fatal(err)
	}
	return h.ID
}

// sendContent is what the audit log keeps of msg's send; found is false
// when the entry is purged.
func (r *retentionRig) sendContent(msg domain.MsgID) (content string, found bool) {
	r.t.Helper()
	page, err := auditlog.Query(r.rm, r.tn.String(), auditlog.Filter{MsgID: string(msg), Action: auditlog.ActionSend, Limit: 10})
	if err != nil {
		r.t.Fatal(err)
	}
	if len(page.Entries) == 0 {
		return "", false
	}
	if c := page.Entries[0].Content; c != nil {
		return *c, true
	}
	return "", true
}

func TestAHoldKeepsContentPastRetentionAndItsReleaseLetsRetentionProceed(t *testing.T) {
	ctx := context.Background()
	twoDays := int64(2 * 86400)
	r := newRetentionRig(t, twoDays)
	held := r.send(r.tn, "kept for the case")
	h := r.placeHold("user", "alice")
	second := r.placeHold("conversation", "chat:alice:bob") // overlapping
	r.clock.Advance(3 * 24 * time.Hour)
	r.feed()

	res, err := retention.Apply(ctx, r.rm, r.store, nil, r.l, r.tn.String(), r.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.HeldBy, []string{h, second}) {
		t.Fatalf("held by %v, want both holds %v", res.HeldBy, []string{h, second})
	}
	if c, found := r.sendContent(held); !found || c != "kept for the case" {
		t.Fatalf("past retention under a hold the audit log keeps %q (found %v)", c, found)
	}
	if evs, err := r.store.ReadStream(ctx, domain.MessageStream(r.tn, held)); err != nil || len(evs) != 1 {
		t.Fatalf("the held send's event: %v %v", evs, err)
	}

	// one of two overlapping holds released: the other still keeps it
	if _, _, err := r.l.ReleaseHold(ctx, r.tn, h, "", "token:admin"); err != nil {
		t.Fatal(err)
	}
	r.feed()
	if res, err = retention.Apply(ctx, r.rm, r.store, nil, r.l, r.tn.String(), r.clock.Now()); err != nil || !reflect.DeepEqual(res.HeldBy, []string{second}) {
		t.Fatalf("after one release: %+v %v", res, err)
	}
	if _, found := r.sendContent(held); !found {
		t.Fatal("one release of two let the entry go")
	}

	if _, _, err := r.l.ReleaseHold(ctx, r.tn, second, "", "token:admin"); err != nil {
		t.Fatal(err)
	}
	r.feed()
	if res, err = retention.Apply(ctx, r.rm, r.store, nil, r.l, r.tn.String(), r.clock.Now()); err != nil || len(res.HeldBy) != 0 || res.Entries == 0 {
		t.Fatalf("after both releases: %+v %v", res, err)
	}
	if _, found := r.sendContent(held); found {
		t.Fatal("released, the entry is still kept past retention")
	}
	if evs, err := r.store.ReadStream(ctx, domain.MessageStream(r.tn, held)); err != nil || len(evs) != 0 {
		t.Fatalf("released, the send's event is still stored: %v %v", evs, err)
	}
	// the holds themselves are never purged: their record stays
	hs, err := r.l.Holds(ctx, r.tn)
	if err != nil || len(hs.All()) != 2 || !hs.All()[0].Released || !hs.All()[1].Released {
		t.Fatalf("the hold stream after retention: %+v %v", hs.All(), err)
	}
}

func TestAHoldOutsideItsRangeDoesNotKeepAnything(t *testing.T) {
	ctx := context.Background()
	twoDays := int64(2 * 86400)
	r := newRetentionRig(t, twoDays)
	old := r.send(r.tn, "before the case")
	from := r.clock.Now().Add(time.Hour)
	cmd, err := domain.NewPlaceHold(r.tn, uuid.NewString(), "user", "alice", &from, nil, "CASE-2", "", "token:admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.l.PlaceHold(ctx, r.tn, cmd); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(3 * 24 * time.Hour)
	r.feed()
	res, err := retention.Apply(ctx, r.rm, r.store, nil, r.l, r.tn.String(), r.clock.Now())
	if err != nil || len(res.HeldBy) != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if _, found := r.sendContent(old); found {
		t.Fatal("a message sent before the hold's range was kept")
	}
}

func TestAHoldKeepsARecalledMessagesAuditContentUntilItIsReleased(t *testing.T) {
	ctx := context.Background()
	r := newRetentionRig(t, 2*86400)
	off := false
	p, err := domain.NewPolicy(domain.PolicySpec{AuditKeepsRecalledContent: &off})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.l.SetPolicy(ctx, r.tn, p, "admin"); err != nil {
		t.Fatal(err)
	}
	held := r.send(r.tn, "under the case")
	free := r.send(r.tn, "free to go")
	h := r.placeHold("conversation", "chat:alice:bob")
	r.clock.Advance(time.Second)
	for _, m := range []domain.MsgID{held, free} {
		rc, _ := domain.NewRecallCommand(string(m), "alice", "", "", "", "")
		if _, err := r.l.Recall(ctx, r.tn, rc); err != nil {
			t.Fatal(err)
		}
		if m == held {
			if _, _, err := r.l.ReleaseHold(ctx, r.tn, h, "", "token:admin"); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.feed()
	// held: recalled under the hold, released after; free: recalled after
	if c, _ := r.sendContent(held); c != "" {
		t.Fatalf("released, the recalled content is still in the audit log: %q", c)
	}
	if c, _ := r.sendContent(free); c != "" {
		t.Fatalf("no hold, yet the recalled content stayed: %q", c)
	}
	page, err := auditlog.Query(r.rm, r.tn.String(), auditlog.Filter{MsgID: string(held), Action: auditlog.ActionRecall, Limit: 10})
	if err != nil || len(page.Entries) != 1 || !strings.Contains(page.Entries[0].Detail, "content_held_by="+h) {
		t.Fatalf("the recall's entry does not name the hold that kept the content: %+v %v", page.Entries, err)
	}
}

func TestWhileAHoldIsInForceARecallLeavesTheAuditContent(t *testing.T) {
	ctx := context.Background()
	r := newRetentionRig(t, 2*86400)
	off := false
	p, _ := domain.NewPolicy(domain.PolicySpec{AuditKeepsRecalledContent: &off})
	if _, err := r.l.SetPolicy(ctx, r.tn, p, "admin"); err != nil {
		t.Fatal(err)
	}
	m := r.send(r.tn, "under the case")
	r.placeHold("user", "alice")
	rc, _ := domain.NewRecallCommand(string(m), "alice", "", "", "", "")
	if _, err := r.l.Recall(ctx, r.tn, rc); err != nil {
		t.Fatal(err)
	}
	r.feed()
	if c, _ := r.sendContent(m); c != "under the case" {
		t.Fatalf("a recall under a hold blanked the audit content: %q", c)
	}
}
