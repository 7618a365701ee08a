package auditlog

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
)

// recallLog is a tenant's log of sends, reads and recall attempts by
// several actors in several conversations: each actor's attempts a few
// among their sends and reads, as on the console's recalls page.
type recallLog struct {
	t      *testing.T
	store  *readmodel.Store
	runner *projections.Runner
	tenant string
	events []domain.Event
	actors []string
	convs  []string
	at     time.Time
}

func newRecallLog(t *testing.T) *recallLog {
	t.Helper()
	store, err := readmodel.Open(filepath.Join(t.TempDir(), "rm"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r, err := projections.NewRunner(Projection{}, store)
	if err != nil {
		t.Fatal(err)
	}
	l := &recallLog{t: t, store: store, runner: r, tenant: "acme/chat", at: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)}
	for i := range 6 {
		l.actors = append(l.actors, fmt.Sprint("u", i))
	}
	l.actors = append(l.actors, "ops") // a tenant admin's recalls, and nothing else
	return l
}

// write appends the history of n messages and applies it in batches.
func (l *recallLog) write(n int, seed uint64) {
	l.t.Helper()
	tn, _ := domain.ParseTenant(l.tenant)
	rng := rand.New(rand.NewPCG(seed, 15))
	from := len(l.events)
	add := func(p domain.Payload) {
		l.at = l.at.Add(time.Duration(1+rng.IntN(5000)) * time.Millisecond)
		e := domain.NewEvent(fmt.Sprintf("00000000-0000-4000-8000-%012d", len(l.events)), tn, l.at, p)
		e.Position = uint64(len(l.events) + 1)
		l.events = append(l.events, e)
	}
	for range n {
		sender, to := domain.UserID(l.actors[rng.IntN(6)]), domain.UserID(l.actors[rng.IntN(6)])
		chat := domain.ChatSingle
		if rng.IntN(3) == 0 {
			chat, to = domain.ChatGroup, domain.UserID(fmt.Sprint("g", rng.IntN(3)))
		}
		conv := domain.ConversationID(chat, sender, to)
		l.convs = appendNew(l.convs, conv)
		msg := domain.MsgID(fmt.Sprintf("m%d-%d", seed, len(l.events)))
		add(domain.MessageSent{MsgID: msg, ConversationID: conv, ChatType: chat, From: sender, To: to, MsgType: "txt", Content: "hi", ContentSHA256: "ab", Platform: "ios"})
		if rng.IntN(2) == 0 {
			add(domain.MessageRead{MsgID: msg, Reader: domain.UserID(l.actors[rng.IntN(6)]), Platform: "android"})
		}
		switch rng.IntN(10) {
		case 0:
			add(domain.RecallRejected{MsgID: msg, Actor: sender, ActorRole: domain.ActorMember, Platform: "ios", Reason: domain.ReasonExceedTimeLimit, ElapsedMs: 130_000, WindowMs: 120_000})
		case 1:
			add(domain.MessageRecalled{MsgID: msg, Actor: sender, ActorRole: domain.ActorMember, Platform: "ios", ElapsedMs: 3_000, WindowMs: 120_000})
		case 2:
			add(domain.MessageRecalled{MsgID: msg, Actor: "ops", ActorRole: domain.ActorTenantAdmin, Platform: "web", ElapsedMs: 60_000, WindowMs: 86_400_000})
		}
	}
	for i := from; i < len(l.events); i += 50 {
		if err := l.runner.HandleBatch(projections.Batch{Events: l.events[i:min(i+50, len(l.events))]}); err != nil {
			l.t.Fatal(err)
		}
	}
}

func appendNew(xs []string, x string) []string {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

// all pages through the entries f selects, limit a page.
func (l *recallLog) all(f Filter, limit int) []Entry {
	l.t.Helper()
	f.Limit = limit
	var out []Entry
	for {
		p, err := Query(l.store, l.tenant, f)
		if err != nil {
			l.t.Fatal(err)
		}
		out = append(out, p.Entries...)
		if p.NextCursor == 0 {
			return out
		}
		f.After = p.NextCursor
	}
}

// forgetRecallIndexes makes the read model one written before the recall
// indexes: no marker, no index keys of the attempts alone.
func (l *recallLog) forgetRecallIndexes() {
	l.t.Helper()
	err := l.store.Update(Name, func(tx projections.Tx) error {
		var doomed [][]byte
		for _, field := range []string{"actor", "conversation_id"} {
			prefix := tkey("i", l.tenant, []byte(recallIndexField(field)), []byte{0})
			if err := tx.Scan(prefix, projections.PrefixEnd(prefix), false, func(k, _ []byte) bool {
				doomed = append(doomed, append([]byte{}, k...))
				return true
			}); err != nil {
				return err
			}
		}
		if len(doomed) == 0 {
			return fmt.Errorf("no recall index keys to forget")
		}
		for _, k := range append(doomed, recallIndexesKey) {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		l.t.Fatal(err)
	}
}

func (l *recallLog) marker() string {
	l.t.Helper()
	var v []byte
	err := l.store.View(Name, func(tx projections.Tx) error {
		var err error
		v, err = tx.Get(recallIndexesKey)
		return err
	})
	if err != nil {
		l.t.Fatal(err)
	}
	return string(v)
}

// checkRecallFilters holds every recall-page filter to the whole log
// filtered by hand.
func (l *recallLog) checkRecallFilters() {
	l.t.Helper()
	everything := l.all(Filter{}, 100_000)
	if len(everything) == 0 {
		l.t.Fatal("an empty log")
	}
	mid := everything[len(everything)/3].At.Time()
	type check struct {
		name string
		f    Filter
		want func(Entry) bool
	}
	var checks []check
	for _, a := range l.actors {
		checks = append(checks,
			check{"recalls by " + a, Filter{Action: ActionRecall, Actor: a}, func(e Entry) bool { return e.Action == "recall" && e.Actor == a }},
			check{"refused recalls by " + a, Filter{Action: ActionRecall, Actor: a, Outcome: "refused"}, func(e Entry) bool {
				return e.Action == "recall" && e.Actor == a && e.Outcome == "refused"
			}},
			check{"recalls by " + a + " after a time", Filter{Action: ActionRecall, Actor: a, From: mid}, func(e Entry) bool {
				return e.Action == "recall" && e.Actor == a && !e.At.Time().Before(mid)
			}})
	}
	for _, c := range l.convs {
		checks = append(checks,
			check{"recalls in " + c, Filter{Action: ActionRecall, ConversationID: c}, func(e Entry) bool { return e.Action == "recall" && e.ConversationID == c }},
			check{"recalls by u1 in " + c, Filter{Action: ActionRecall, ConversationID: c, Actor: "u1"}, func(e Entry) bool {
				return e.Action == "recall" && e.ConversationID == c && e.Actor == "u1"
			}})
	}
	checks = append(checks, check{"sends by u2", Filter{Action: ActionSend, Actor: "u2"}, func(e Entry) bool { return e.Action == "send" && e.Actor == "u2" }})
	for _, c := range checks {
		var want []uint64
		for _, e := range everything {
			if c.want(e) {
				want = append(want, e.Seq)
			}
		}
		for _, limit := range []int{1, 7, 1000} {
			got := l.all(c.f, limit)
			seqs := make([]uint64, len(got))
			for i, e := range got {
				seqs[i] = e.Seq
			}
			if fmt.Sprint(seqs) != fmt.Sprint(want) {
				l.t.Fatalf("%s, %d a page: seqs %v, want %v (the log filtered by hand)", c.name, limit, seqs, want)
			}
		}
	}
}

func TestRecallPagesByActorOrConversationEqualTheLogFilteredByHand(t *testing.T) {
	t.Run("with the recall indexes", func(t *testing.T) {
		l := newRecallLog(t)
		l.write(400, 1)
		if m := l.marker(); m != "y" {
			t.Fatalf("a read model written from its first event is marked %q, want y", m)
		}
		l.checkRecallFilters()
	})
	t.Run("written before them", func(t *testing.T) {
		l := newRecallLog(t)
		l.write(200, 1)
		l.forgetRecallIndexes()
		l.write(200, 2) // its next events mark it, and add keys it cannot use
		if m := l.marker(); m != "n" {
			t.Fatalf("a read model written before the recall indexes is marked %q, want n", m)
		}
		l.checkRecallFilters()
		// a rebuild writes it again with them
		if err := l.runner.Reset(); err != nil {
			t.Fatal(err)
		}
		if err := l.runner.HandleBatch(projections.Batch{Events: l.events}); err != nil {
			t.Fatal(err)
		}
		if m := l.marker(); m != "y" {
			t.Fatalf("after a rebuild the read model is marked %q, want y", m)
		}
		l.checkRecallFilters()
	})
}

// One actor's recall attempts are a few among their sends and reads: a
// page of them reads those entries and no others.
func TestAPageOfOneActorsRecallsReadsOnlyTheirAttempts(t *testing.T) {
	l := newRecallLog(t)
	l.write(1500, 3)
	for _, f := range []Filter{{Action: ActionRecall, Actor: "u3", Limit: 30}, {Action: ActionRecall, ConversationID: "groupchat:g1", Limit: 30}} {
		entries := 0
		for _, e := range l.all(Filter{Actor: f.Actor, ConversationID: f.ConversationID}, 100_000) {
			if e.Action != ActionRecall {
				entries++
			}
		}
		p, err := query(l.store, l.tenant, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.page.Entries) != f.Limit || entries < 4*f.Limit {
			t.Fatalf("%+v: a page of %d, beside %d other entries: the log does not test this", f, len(p.page.Entries), entries)
		}
		// its entries and one to know there are more, read at least
		// minFetch at once
		if p.read > max(f.Limit+1, minFetch) {
			t.Errorf("%+v: the page read %d entries for its %d", f, p.read, f.Limit)
		}
	}
}
