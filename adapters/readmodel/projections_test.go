package readmodel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
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
	"github.com/recallledger/recall/projections/catalog"
	"github.com/recallledger/recall/projections/conversation"
	"github.com/recallledger/recall/projections/recallreport"
)

// world is a ledger over a real embedded store, with real read models fed
// the way the server feeds them (every event, in order, to each runner).
type world struct {
	t       *testing.T
	dir     string
	clock   *clocktest.Clock
	stores  *readmodeltest.Stores
	store   *embedded.Store
	rm      *readmodel.Store
	l       *ledger.Service
	runners []*projections.Runner
	tenant  domain.Tenant
}

var start = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

func newWorld(t *testing.T, dir string, clock *clocktest.Clock) *world {
	t.Helper()
	s := readmodeltest.OpenStores(t, dir, catalog.Projections()...)
	tn, _ := domain.ParseTenant("acme/chat")
	return &world{t: t, dir: dir, clock: clock, stores: s, store: s.Events, rm: s.Models, l: ledger.New(s.Events, clock), runners: s.Runners, tenant: tn}
}

func (w *world) close() { w.stores.Close() }

// feed applies every stored event to every runner, one at a time.
func (w *world) feed() { w.stores.Feed() }

func (w *world) send(from, to, chat, content string) domain.MsgID {
	w.t.Helper()
	return readmodeltest.Send(w.t, w.l, w.tenant, from, to, chat, content)
}

// retainTwoDays sets the tenant's audit and message retention to two days.
func (w *world) retainTwoDays() {
	w.t.Helper()
	retention := int64(2 * 86400)
	p, err := domain.NewPolicy(domain.PolicySpec{AuditRetentionS: &retention, MessageRetentionS: &retention})
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.l.SetPolicy(context.Background(), w.tenant, p, "admin"); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) read(id domain.MsgID, reader string) {
	w.t.Helper()
	cmd, _ := domain.NewReadCommand(string(id), reader, "android")
	if _, err := w.l.Read(context.Background(), w.tenant, cmd); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) recall(id domain.MsgID, actor, role string) domain.Decision {
	w.t.Helper()
	cmd, err := domain.NewRecallCommand(string(id), actor, role, "web", "", "")
	if err != nil {
		w.t.Fatal(err)
	}
	out, err := w.l.Recall(context.Background(), w.tenant, cmd)
	if err != nil {
		w.t.Fatal(err)
	}
	return out.Decision
}

func (w *world) view(conv, viewer, locale string) conversation.View {
	w.t.Helper()
	v, err := conversation.Query(w.rm, w.tenant.String(), conv, viewer, locale, "", 100, time.Time{})
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

// dump is every read model's bytes, for determinism checks.
func (w *world) dump() string {
	w.t.Helper()
	return readmodeltest.Dump(w.t, w.rm)
}

// story is a small history with every kind of fact: sends, reads, an
// accepted recall, refusals (one a timeout), a group recall by an admin.
func story(w *world) (hi, secret, late, group domain.MsgID) {
	hi = w.send("alice", "bob", "chat", "hi bob")
	w.clock.Advance(time.Second)
	secret = w.send("alice", "bob", "chat", "the secret")
	w.clock.Advance(time.Second)
	w.read(hi, "bob")
	w.clock.Advance(5 * time.Second)
	if d := w.recall(secret, "bob", ""); d.Reason != domain.ReasonForbidden {
		w.t.Fatalf("bob's recall: %+v", d)
	}
	if d := w.recall(secret, "alice", ""); !d.Recalled {
		w.t.Fatalf("alice's recall: %+v", d)
	}
	late = w.send("bob", "alice", "chat", "late one")
	w.clock.Advance(121 * time.Second)
	if d := w.recall(late, "bob", ""); d.Reason != domain.ReasonExceedTimeLimit {
		w.t.Fatalf("late recall: %+v", d)
	}
	group = w.send("carol", "team", "groupchat", "spam")
	w.clock.Advance(time.Hour)
	if d := w.recall(group, "owner", "group_owner"); !d.Recalled {
		w.t.Fatalf("group recall: %+v", d)
	}
	return hi, secret, late, group
}

func TestConversationViewPerViewer(t *testing.T) {
	w := newWorld(t, t.TempDir(), clocktest.New(start))
	defer w.close()
	hi, secret, late, _ := story(w)
	w.feed()

	bob := w.view("chat:alice:bob", "bob", "en")
	if len(bob.Messages) != 3 {
		t.Fatalf("bob sees %d messages: %+v", len(bob.Messages), bob.Messages)
	}
	if m := bob.Messages[0]; m.MsgID != string(hi) || m.Status != "visible" || *m.Content != "hi bob" || len(m.ReadBy) != 1 {
		t.Fatalf("first message for bob: %+v", m)
	}
	if m := bob.Messages[1]; m.MsgID != string(secret) || m.Status != "recalled" || m.Content != nil || m.Notice != "alice recalled a message" {
		t.Fatalf("recalled message for bob: %+v", m)
	}
	// bob read "hi"; the secret was recalled unread: nothing is unread for bob
	if bob.Unread != 0 {
		t.Fatalf("bob's unread %d, want 0", bob.Unread)
	}
	alice := w.view("chat:alice:bob", "alice", "en")
	if alice.Messages[1].Notice != "You recalled a message" || alice.Unread != 1 || alice.Messages[2].MsgID != string(late) {
		t.Fatalf("alice's view: unread %d %+v", alice.Unread, alice.Messages)
	}
	for locale, want := range map[string]string{"zh-CN": "alice 撤回了一条消息", "ja": "aliceがメッセージの送信を取り消しました"} {
		if got := w.view("chat:alice:bob", "bob", locale).Messages[1].Notice; got != want {
			t.Errorf("%s notice %q, want %q", locale, got, want)
		}
	}
	if got := w.view("groupchat:team", "dave", "en").Messages[0].Notice; got != "owner recalled a message" {
		t.Errorf("group notice %q", got)
	}
	page, err := conversation.Query(w.rm, w.tenant.String(), "chat:alice:bob", "bob", "en", "", 2, time.Time{})
	if err != nil || len(page.Messages) != 2 || page.NextCursor == "" {
		t.Fatalf("first page: %+v %v", page, err)
	}
	rest, err := conversation.Query(w.rm, w.tenant.String(), "chat:alice:bob", "bob", "en", page.NextCursor, 2, time.Time{})
	if err != nil || len(rest.Messages) != 1 || rest.NextCursor != "" || rest.Messages[0].MsgID != string(late) {
		t.Fatalf("second page: %+v %v", rest, err)
	}
}

func TestRecallOfUnreadMessageLowersUnread(t *testing.T) {
	w := newWorld(t, t.TempDir(), clocktest.New(start))
	defer w.close()
	a := w.send("alice", "bob", "chat", "one")
	w.send("alice", "bob", "chat", "two")
	w.feed()
	if u := w.view("chat:alice:bob", "bob", "en").Unread; u != 2 {
		t.Fatalf("unread %d, want 2", u)
	}
	w.recall(a, "alice", "")
	w.feed()
	if u := w.view("chat:alice:bob", "bob", "en").Unread; u != 1 {
		t.Fatalf("after the recall unread %d, want 1", u)
	}
}

func TestExpiredMessagesAreGoneFromTheView(t *testing.T) {
	w := newWorld(t, t.TempDir(), clocktest.New(start))
	defer w.close()
	id := w.send("alice", "bob", "chat", "ephemeral")
	w.clock.Advance(8 * 24 * time.Hour)
	if ok, err := w.l.Expire(context.Background(), w.tenant, id); err != nil || !ok {
		t.Fatalf("expire: %v %v", ok, err)
	}
	w.feed()
	if v := w.view("chat:alice:bob", "bob", "en"); len(v.Messages) != 0 {
		t.Fatalf("expired message still shown: %+v", v.Messages)
	}
	var kinds []string
	if err := conversation.Updates(w.rm, w.tenant.String(), "chat:alice:bob", 0, time.Time{}, func(u conversation.Update) error {
		kinds = append(kinds, u.Kind)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// the expiry takes the message's own updates out of the change log too
	if strings.Join(kinds, ",") != "expired" {
		t.Fatalf("updates %v", kinds)
	}
}

func TestRecallReportCountsEqualAttempts(t *testing.T) {
	w := newWorld(t, t.TempDir(), clocktest.New(start))
	defer w.close()
	story(w)
	w.feed()
	from, to := start.Add(-time.Hour), start.Add(3*time.Hour)
	rows := func(groupBy string, loc *time.Location) map[string]recallreport.Row {
		rep, err := recallreport.Query(w.rm, w.tenant.String(), from, to, groupBy, loc)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]recallreport.Row{}
		for _, r := range rep.Rows {
			out[r.Key] = r
		}
		return out
	}
	byOutcome := rows("outcome", time.UTC)
	if byOutcome["recalled"].Attempts != 2 || byOutcome["forbidden"].Refused != 1 || byOutcome["exceed_time_limit"].Timeouts != 1 || len(byOutcome) != 3 {
		t.Fatalf("by outcome: %+v", byOutcome)
	}
	byChat := rows("chat_type", time.UTC)
	if byChat["chat"].Attempts != 3 || byChat["groupchat"].Recalled != 1 {
		t.Fatalf("by chat type: %+v", byChat)
	}
	byElapsed := rows("elapsed", time.UTC)
	if byElapsed["0-10s"].Attempts != 2 || byElapsed["120-180s"].Timeouts != 1 || byElapsed["3-10min"].Attempts != 0 || byElapsed[">10min"].Recalled != 1 {
		t.Fatalf("by elapsed: %+v", byElapsed)
	}
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	if byHour := rows("hour", shanghai); byHour["17"].Attempts != 3 || byHour["18"].Attempts != 1 {
		t.Fatalf("by hour in Shanghai: %+v", byHour)
	}
	if byPlatform := rows("platform", time.UTC); byPlatform["web"].Attempts != 4 {
		t.Fatalf("by platform: %+v", byPlatform)
	}
	if _, err := recallreport.Query(w.rm, w.tenant.String(), from, to, "mood", time.UTC); err == nil {
		t.Fatal("unknown group_by accepted")
	}
	// a range that ends before the late attempts leaves them out
	rep, _ := recallreport.Query(w.rm, w.tenant.String(), from, start.Add(10*time.Second), "outcome", time.UTC)
	n := int64(0)
	for _, r := range rep.Rows {
		n += r.Attempts
	}
	if n != 2 {
		t.Fatalf("attempts in the first 10 s: %d, want 2", n)
	}
}

func TestRedeliveryAndRestartNeverDoubleCount(t *testing.T) {
	dir := t.TempDir()
	clock := clocktest.New(start)
	w := newWorld(t, dir, clock)
	story(w)
	w.feed()
	before := w.dump()
	w.feed() // at-least-once: everything delivered again
	if after := w.dump(); after != before {
		t.Fatal("redelivering every event changed the read models")
	}
	w.close()

	w = newWorld(t, dir, clock) // restart: checkpoints come back from disk
	defer w.close()
	for _, r := range w.runners {
		if r.Position() != w.store.Head() {
			t.Fatalf("%s resumed at %d, head %d", r.Name(), r.Position(), w.store.Head())
		}
	}
	w.feed()
	if after := w.dump(); after != before {
		t.Fatal("feeding after a restart changed the read models")
	}
}

func TestRebuildIsByteIdentical(t *testing.T) {
	w := newWorld(t, t.TempDir(), clocktest.New(start))
	defer w.close()
	story(w)
	w.feed() // one event at a time, as live
	live := w.dump()
	if !strings.Contains(live, "audit_log") || !strings.Contains(live, "conversations") || !strings.Contains(live, "recall_reports") {
		t.Fatal("the dump misses a read model")
	}
	evs, err := w.store.ReadAll(context.Background(), 0, "", 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range w.runners {
		if err := r.Reset(); err != nil {
			t.Fatal(err)
		}
		if r.Position() != 0 {
			t.Fatal("reset kept the checkpoint")
		}
		for i := 0; i < len(evs); i += 4 { // in batches, as recallctl rebuilds
			if err := r.HandleBatch(projections.Batch{Events: evs[i:min(i+4, len(evs))]}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rebuilt := w.dump(); rebuilt != live {
		t.Fatalf("rebuild differs from the live read models:\n%s\n---\n%s", rebuilt, live)
	}
}

func TestAuditLogEntriesAndFilters(t *testing.T) {
	w := newWorld(t, t.TempDir(), clocktest.New(start))
	defer w.close()
	_, secret, _, _ := story(w)
	w.feed()
	q := func(f auditlog.Filter) []auditlog.Entry {
		t.Helper()
		p, err := auditlog.Query(w.rm, w.tenant.String(), f)
		if err != nil {
			t.Fatal(err)
		}
		return p.Entries
	}
	all := q(auditlog.Filter{Limit: 1000})
	if len(all) != 9 { // 4 sends, 1 read, 4 recall attempts
		t.Fatalf("%d entries, want 9", len(all))
	}
	for i, e := range all {
		if e.Seq != uint64(i+1) || (i > 0 && e.PrevHash != all[i-1].Hash) {
			t.Fatalf("entry %d: seq %d, chain broken", i, e.Seq)
		}
	}
	hist := q(auditlog.Filter{MsgID: string(secret)})
	if len(hist) != 3 || hist[0].Action != "send" || *hist[0].Content != "the secret" || hist[1].Reason != "forbidden" || hist[2].Outcome != "recalled" {
		t.Fatalf("history of the secret: %+v", hist)
	}
	if r := q(auditlog.Filter{Action: "recall", Outcome: "refused"}); len(r) != 2 {
		t.Fatalf("refused recalls: %d", len(r))
	}
	if r := q(auditlog.Filter{Actor: "alice", Action: "send"}); len(r) != 2 {
		t.Fatalf("alice's sends: %d", len(r))
	}
	if r := q(auditlog.Filter{ConversationID: "groupchat:team"}); len(r) != 2 || r[1].ConversationID != "groupchat:team" {
		t.Fatalf("group conversation: %+v", r)
	}
	if r := q(auditlog.Filter{From: start.Add(3 * time.Second), To: start.Add(10 * time.Second)}); len(r) != 3 {
		t.Fatalf("entries between 3 s and 10 s: %d, want 3 (two attempts and a send at 7 s)", len(r))
	}
	p1, _ := auditlog.Query(w.rm, w.tenant.String(), auditlog.Filter{Limit: 4})
	p2, _ := auditlog.Query(w.rm, w.tenant.String(), auditlog.Filter{Limit: 4, After: p1.NextCursor})
	if len(p1.Entries) != 4 || p1.NextCursor != 4 || p2.Entries[0].Seq != 5 {
		t.Fatalf("pages: %d next %d, then from %d", len(p1.Entries), p1.NextCursor, p2.Entries[0].Seq)
	}
}

// TestAuditPagesThroughAnIndexWithFiltersItDoesNotCover pages through
// filters the index serves only in part (actor, then action and outcome
// checked on each entry), across more entries than one read of a page
// fetches, and checks every page against filtering the whole log.
func TestAuditPagesThroughAnIndexWithFiltersItDoesNotCover(t *testing.T) {
	w := newWorld(t, t.TempDir(), clocktest.New(start))
	defer w.close()
	for i := range 90 {
		from := []string{"alice", "bob", "carol"}[i%3]
		id := w.send(from, "team", "groupchat", fmt.Sprint("m", i))
		w.clock.Advance(time.Second)
		if i%4 == 0 {
			w.recall(id, "alice", "") // alice's own sends are recalled, others refused
		}
	}
	w.feed()
	all, err := auditlog.Query(w.rm, w.tenant.String(), auditlog.Filter{Limit: 1000})
	if err != nil || len(all.Entries) < 110 || all.NextCursor != 0 {
		t.Fatalf("the whole log: %d entries, next %d, %v", len(all.Entries), all.NextCursor, err)
	}
	for _, f := range []auditlog.Filter{
		{Actor: "alice"},
		{Actor: "alice", Action: "recall", Outcome: "refused"},
		{Actor: "alice", Action: "recall", Outcome: "recalled"},
		{Action: "recall", Outcome: "refused"},
		{ConversationID: "groupchat:team", Actor: "carol"},
		{Actor: "nobody"},
	} {
		var want []uint64
		for _, e := range all.Entries {
			if (f.Actor == "" || e.Actor == f.Actor) && (f.Action == "" || e.Action == f.Action) &&
				(f.Outcome == "" || e.Outcome == f.Outcome) && (f.ConversationID == "" || e.ConversationID == f.ConversationID) {
				want = append(want, e.Seq)
			}
		}
		var got []uint64
		f.Limit = 7
		for pages := 0; ; pages++ {
			if pages > 100 {
				t.Fatalf("%+v: the cursor does not advance", f)
			}
			p, err := auditlog.Query(w.rm, w.tenant.String(), f)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Entries) > f.Limit {
				t.Fatalf("%+v: a page of %d", f, len(p.Entries))
			}
			for _, e := range p.Entries {
				got = append(got, e.Seq)
			}
			if p.NextCursor == 0 {
				break
			}
			f.After = p.NextCursor
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%+v:\n got %v\nwant %v", f, got, want)
		}
	}
}

func TestViewReadsManyKeysInOrder(t *testing.T) {
	rm, err := readmodel.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	var keys [][]byte
	check := func(tx projections.Tx) error {
		values, err := tx.GetMany(keys)
		if err != nil || len(values) != len(keys) {
			return fmt.Errorf("%d values for %d keys, %v", len(values), len(keys), err)
		}
		for i, v := range values {
			switch {
			case i%5 == 4 && v != nil:
				return fmt.Errorf("absent key %d read as %q", i, v)
			case i%5 == 3 && (v == nil || len(v) != 0):
				return fmt.Errorf("empty value %d read as %v", i, v)
			case i%5 < 3 && string(v) != fmt.Sprint("v", i):
				return fmt.Errorf("key %d read as %q", i, v)
			}
		}
		return nil
	}
	err = rm.Update("ns", func(tx projections.Tx) error {
		for i := range 100 {
			k := []byte(fmt.Sprint("k", i))
			keys = append(keys, k)
			switch i % 5 {
			case 3:
				err = tx.Set(k, nil)
			case 4: // never written
			default:
				err = tx.Set(k, []byte(fmt.Sprint("v", i)))
			}
			if err != nil {
				return err
			}
		}
		return check(tx) // through the batch, before commit
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := rm.View("ns", check); err != nil { // from a snapshot, in parallel
		t.Fatal(err)
	}
}

func TestAuditDropsRecalledContentWhenPolicySaysSo(t *testing.T) {
	w := newWorld(t, t.TempDir(), clocktest.New(start))
	defer w.close()
	keep := false
	p, _ := domain.NewPolicy(domain.PolicySpec{AuditKeepsRecalledContent: &keep})
	if _, err := w.l.SetPolicy(context.Background(), w.tenant, p, "admin"); err != nil {
		t.Fatal(err)
	}
	id := w.send("alice", "bob", "chat", "regret")
	w.recall(id, "alice", "")
	w.feed()
	page, _ := auditlog.Query(w.rm, w.tenant.String(), auditlog.Filter{MsgID: string(id)})
	if page.Entries[0].Content != nil || page.Entries[0].ContentSHA256 == "" {
		t.Fatalf("send entry after recall: %+v", page.Entries[0])
	}
	if res, err := auditlog.Verify(w.rm, w.tenant.String()); err != nil || !res.OK {
		t.Fatalf("chain after dropping content: %+v %v", res, err)
	}
}

func TestTamperingIsDetected(t *testing.T) {
	cases := []struct {
		name    string
		tamper  func(e map[string]any)
		problem string
	}{
		{"altered actor", func(e map[string]any) { e["actor"] = "mallory" }, "hash does not match"},
		{"altered outcome", func(e map[string]any) { e["outcome"] = "refused" }, "hash does not match"},
		{"altered content", func(e map[string]any) { e["content"] = "something else" }, "content does not match"},
		{"altered hash", func(e map[string]any) { e["hash"] = strings.Repeat("0", 64) }, "hash does not match"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, t.TempDir(), clocktest.New(start))
			defer w.close()
			story(w)
			w.feed()
			if res, err := auditlog.Verify(w.rm, w.tenant.String()); err != nil || !res.OK || res.Entries != 9 {
				t.Fatalf("before tampering: %+v %v", res, err)
			}
			// alter entry 2 (alice's send of the secret) in storage, as an
			// insider with disk access would
			key := append(append(append([]byte("e\x00"), w.tenant.String()...), 0), 0, 0, 0, 0, 0, 0, 0, 2)
			err := w.rm.Update(auditlog.Name, func(tx projections.Tx) error {
				raw, err := tx.Get(key)
				if err != nil || raw == nil {
					return fmt.Errorf("entry 2 not found: %v", err)
				}
				var e map[string]any
				if err := json.Unmarshal(raw, &e); err != nil {
					return err
				}
				c.tamper(e)
				b, _ := json.Marshal(e)
				return tx.Set(key, b)
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err := auditlog.Verify(w.rm, w.tenant.String())
			if err != nil {
				t.Fatal(err)
			}
			if res.OK || res.BrokenAt != 2 || !strings.Contains(res.Problem, c.problem) {
				t.Fatalf("verify after tampering: %+v", res)
			}
		})
	}
}

func TestDeletedEntryIsDetected(t *testing.T) {
	w := newWorld(t, t.TempDir(), clocktest.New(start))
	defer w.close()
	story(w)
	w.feed()
	key := append(append(append([]byte("e\x00"), w.tenant.String()...), 0), 0, 0, 0, 0, 0, 0, 0, 5)
	if err := w.rm.Update(auditlog.Name, func(tx projections.Tx) error { return tx.Delete(key) }); err != nil {
		t.Fatal(err)
	}
	res, err := auditlog.Verify(w.rm, w.tenant.String())
	if err != nil || res.OK || res.BrokenAt != 5 {
		t.Fatalf("verify after deleting entry 5: %+v %v", res, err)
	}
}

func TestRetentionPurgeKeepsTheChainVerifiable(t *testing.T) {
	clock := clocktest.New(start)
	w := newWorld(t, t.TempDir(), clock)
	defer w.close()
	w.retainTwoDays()
	old := w.send("alice", "bob", "chat", "old news")
	clock.Advance(36 * time.Hour)
	recent := w.send("alice", "bob", "chat", "recent")
	w.feed()

	n, _, err := auditlog.Purge(w.rm, w.tenant.String(), clock.Now())
	if err != nil || n != 0 {
		t.Fatalf("purge within retention: %d %v", n, err)
	}
	clock.Advance(24 * time.Hour) // the policy entry and the old send are now 60 h old
	n, lastPos, err := auditlog.Purge(w.rm, w.tenant.String(), clock.Now())
	if err != nil || n != 2 || lastPos == 0 {
		t.Fatalf("purge: %d entries, last position %d, %v; want 2", n, lastPos, err)
	}
	page, _ := auditlog.Query(w.rm, w.tenant.String(), auditlog.Filter{Limit: 100})
	if len(page.Entries) != 1 || page.Entries[0].MsgID != string(recent) {
		t.Fatalf("after purge: %+v", page.Entries)
	}
	if r, _ := auditlog.Query(w.rm, w.tenant.String(), auditlog.Filter{MsgID: string(old)}); len(r.Entries) != 0 {
		t.Fatal("the purged message is still searchable")
	}
	res, err := auditlog.Verify(w.rm, w.tenant.String())
	if err != nil || !res.OK || res.Anchor != 2 || res.Entries != 1 {
		t.Fatalf("verify after purge: %+v %v", res, err)
	}
	// new entries continue the chain from the anchor
	w.read(recent, "bob")
	w.feed()
	if res, err := auditlog.Verify(w.rm, w.tenant.String()); err != nil || !res.OK || res.Entries != 2 {
		t.Fatalf("verify after a new entry: %+v %v", res, err)
	}
}

func TestCSVNeutralisesFormulas(t *testing.T) {
	var buf bytes.Buffer
	cw, err := auditlog.NewCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	content := `=HYPERLINK("http://evil","click"), "quoted"` + "\nsecond line"
	if err := cw.Write(auditlog.Entry{Seq: 1, Actor: "@admin", Content: &content, Reason: "+1", Detail: "-2", ReasonText: "\tx"}); err != nil {
		t.Fatal(err)
	}
	if err := cw.Flush(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`'@admin`, `"'=HYPERLINK(""http://evil"",""click""), ""quoted""`, "second line\"", `'+1`, `'-2`, "'\tx"} {
		if !strings.Contains(out, want) {
			t.Errorf("CSV lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasPrefix(out, "seq,at,action,") || !strings.Contains(out, "\r\n") {
		t.Errorf("CSV header or line ends: %q", out)
	}
}

func TestTransactionReadsSeeItsOwnWritesAndEmptyValues(t *testing.T) {
	rm, err := readmodel.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	err = rm.Update("ns", func(tx projections.Tx) error {
		if v, _ := tx.Get([]byte("k")); v != nil {
			return fmt.Errorf("absent key read as %q", v)
		}
		if err := tx.Set([]byte("k"), nil); err != nil {
			return err
		}
		if v, _ := tx.Get([]byte("k")); v == nil || len(v) != 0 {
			return fmt.Errorf("empty value read as %v", v)
		}
		if err := tx.Set([]byte("k"), []byte("v")); err != nil {
			return err
		}
		if v, _ := tx.Get([]byte("k")); string(v) != "v" {
			return fmt.Errorf("after set: %q", v)
		}
		if err := tx.Delete([]byte("k")); err != nil {
			return err
		}
		if v, _ := tx.Get([]byte("k")); v != nil {
			return fmt.Errorf("after delete: %q", v)
		}
		return tx.Set([]byte("k2"), []byte("kept"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := rm.View("ns", func(tx projections.Tx) error {
		v, err := tx.Get([]byte("k2"))
		if string(v) != "kept" {
			return fmt.Errorf("committed value %q %v", v, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
