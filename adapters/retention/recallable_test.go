package retention_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/retention"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
)

// legacyPolicy is a policy as a version before NewPolicy refused an audit
// retention shorter than the message retention or the admin window could
// record it: SetPolicy stores what it is given.
func (a *liveAudit) legacyPolicy(auditS, adminS, messageS int64) {
	a.t.Helper()
	p := domain.DefaultPolicy()
	p.AuditRetentionS, p.AdminWindowS, p.MessageRetentionS = auditS, adminS, messageS
	if _, err := domain.NewPolicy(domain.PolicySpec{AuditRetentionS: &auditS, AdminWindowS: &adminS, MessageRetentionS: &messageS}); err == nil {
		a.t.Fatalf("audit %d admin %d message %d is a valid policy today; the test needs one recorded before the rule", auditS, adminS, messageS)
	}
	if _, err := a.l.SetPolicy(a.ctx, a.tn, p, "admin"); err != nil {
		a.t.Fatal(err)
	}
	a.feed()
}

func (a *liveAudit) adminRecall(id domain.MsgID) domain.Decision {
	a.t.Helper()
	cmd, _ := domain.NewRecallCommand(string(id), "boss", "tenant_admin", "web", "abuse", "")
	out, err := a.l.Recall(a.ctx, a.tn, cmd)
	if err != nil {
		a.t.Fatal(err)
	}
	a.feed()
	return out.Decision
}

// TestPurgeNeverRemovesWhatMayStillBeRecalled: a tenant whose stored policy
// predates the rule has an audit retention of one day; the retention job
// runs two days after a send. The purge keeps at least the message
// retention and the admin window, so the message is still there: a
// tenant admin's recall inside the admin window succeeds, and one past it
// is refused for the time limit, never not_found. Once the message
// retention has passed, the purge does remove it.
func TestPurgeNeverRemovesWhatMayStillBeRecalled(t *testing.T) {
	const day = 86400
	cases := []struct {
		name                   string
		auditS, adminS, msgS   int64
		want                   domain.Reason // "" for recalled
		purgeAfterMsgRetention time.Duration
	}{
		{"admin window and message retention longer than the audit retention", day, 7 * day, 7 * day, "", 8 * 24 * time.Hour},
		{"message retention longer than the audit retention, admin window shorter", day, 3600, 7 * day, domain.ReasonExceedTimeLimit, 8 * 24 * time.Hour},
		{"admin window as long as the message retention, both longer than the audit retention", day, 3 * day, 3 * day, "", 4 * 24 * time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newLiveAudit(t)
			a.legacyPolicy(c.auditS, c.adminS, c.msgS)
			id := a.send("the message an admin must still be able to recall")
			a.clock.Advance(2 * 24 * time.Hour)
			if _, err := retention.Apply(a.ctx, a.rm, a.store, nil, domain.NoHolds{}, a.tn.String(), a.clock.Now()); err != nil {
				t.Fatal(err)
			}
			d := a.adminRecall(id)
			if d.Reason != c.want {
				t.Fatalf("tenant admin's recall two days after the send: recalled=%v reason %q, want %q", d.Recalled, d.Reason, c.want)
			}
			if m, err := a.l.Message(a.ctx, a.tn, id); err != nil || !m.Exists {
				t.Fatalf("the purge removed a message inside its retention (%v)", err)
			}
			a.clock.Advance(c.purgeAfterMsgRetention - 2*24*time.Hour)
			res, err := retention.Apply(a.ctx, a.rm, a.store, nil, domain.NoHolds{}, a.tn.String(), a.clock.Now())
			if err != nil || res.Entries == 0 || res.Events == 0 {
				t.Fatalf("past the message retention nothing was purged: %+v %v", res, err)
			}
			if m, _ := a.l.Message(a.ctx, a.tn, id); m.Exists {
				t.Fatal("past the message retention and the audit retention the message is still stored")
			}
			if v, err := auditlog.Verify(a.rm, a.tn.String()); err != nil || !v.OK {
				t.Fatalf("chain after the purge: %+v %v", v, err)
			}
		})
	}
}

// TestPolicyStateFromAnEarlierVersionKeepsTheLongestMessageRetention: a
// read model written by a version that recorded only the audit retention
// of a tenant's policy cannot tell how long its messages live, so its
// purge keeps entries for the longest message retention any policy
// allows, until a new policy or a rebuild records the rest.
func TestPolicyStateFromAnEarlierVersionKeepsTheLongestMessageRetention(t *testing.T) {
	a := newLiveAudit(t)
	a.send("kept")
	// the earlier layout: keep-content flag, then audit_retention_s (one day)
	key := append(append([]byte("p\x00"), a.tn.String()...), 0)
	old := binary.BigEndian.AppendUint64([]byte{1}, 86400)
	if err := a.rm.Update(auditlog.Name, func(tx projections.Tx) error { return tx.Set(key, old) }); err != nil {
		t.Fatal(err)
	}
	longest := time.Duration(domain.MaxMessageRetentionS) * time.Second
	if n, _, err := auditlog.Purge(a.rm, a.tn.String(), a.clock.Now().Add(longest-time.Second)); err != nil || n != 0 {
		t.Fatalf("purged %d entries within the longest message retention (%v)", n, err)
	}
	if n, _, err := auditlog.Purge(a.rm, a.tn.String(), a.clock.Now().Add(longest+time.Second)); err != nil || n != 1 {
		t.Fatalf("purged %d entries past the longest message retention, want 1 (%v)", n, err)
	}
}
