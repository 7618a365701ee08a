package readmodel_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/recallreport"
)

// fed is one projection over a fresh read model, fed events made in a
// loop, 2,000 at a time, at positions 1, 2, 3…
type fed struct {
	tb    testing.TB
	rm    *readmodel.Store
	r     *projections.Runner
	batch []domain.Event
	pos   uint64
}

func feedOne(tb testing.TB, p projections.Projection) *fed {
	tb.Helper()
	rm, err := readmodel.Open(filepath.Join(tb.TempDir(), "rm"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rm.Close() })
	r, err := projections.NewRunner(p, rm)
	if err != nil {
		tb.Fatal(err)
	}
	return &fed{tb: tb, rm: rm, r: r}
}

func (f *fed) add(tn domain.Tenant, at time.Time, payload domain.Payload) {
	e := domain.NewEvent(uuid.NewString(), tn, at, payload)
	f.pos++
	e.Position = f.pos
	if f.batch = append(f.batch, e); len(f.batch) == 2000 {
		f.flush()
	}
}

func (f *fed) flush() {
	if err := f.r.HandleBatch(projections.Batch{Events: f.batch}); err != nil {
		f.tb.Fatal(err)
	}
	f.batch = f.batch[:0]
}

// BenchmarkRecallReportOverviewOf150kAttempts asks the five reports the
// console's overview asks at once, over 30 days and over the last day, of
// a tenant with 150,000 recall attempts in 30 days.
func BenchmarkRecallReportOverviewOf150kAttempts(b *testing.B) {
	fed := feedOne(b, recallreport.Projection{})
	tn, _ := domain.ParseTenant("acme/chat")
	const n = 150_000
	end := start.Add(30 * 24 * time.Hour)
	step := 30 * 24 * time.Hour / n
	platforms := []string{"ios", "android", "web", "windows"}
	for i := range n {
		at := start.Add(time.Duration(i) * step)
		elapsed := int64(i%240) * 1000
		if elapsed > 120_000 {
			fed.add(tn, at, domain.RecallRejected{MsgID: "m", Actor: "alice", ActorRole: domain.ActorMember, Platform: platforms[i%4], Reason: domain.ReasonExceedTimeLimit, ElapsedMs: elapsed})
		} else {
			fed.add(tn, at, domain.MessageRecalled{MsgID: "m", Actor: "alice", ActorRole: domain.ActorMember, Platform: platforms[i%4], ElapsedMs: elapsed})
		}
	}
	fed.flush()
	rm := fed.rm
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		from     time.Time
		timeline string
	}{{"30d", start, "day"}, {"24h", end.Add(-24 * time.Hour), "hour"}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				for _, g := range []string{c.timeline, "platform", "chat_type", "outcome", "elapsed"} {
					rep, err := recallreport.Query(rm, tn.String(), c.from, end, g, shanghai)
					if err != nil || len(rep.Rows) == 0 {
						b.Fatal(err, rep)
					}
				}
			}
		})
	}
}

// reportStores returns two read models fed the same attempts: one keeping
// counts (a fresh namespace), one written as before counts existed (its
// namespace already held rows when counts came), whose reports are read
// from the rows alone.
func reportStores(t *testing.T, evs []domain.Event) (withCounts, rowsOnly *readmodel.Store) {
	t.Helper()
	open := func(name string, before func(*readmodel.Store)) *readmodel.Store {
		rm, err := readmodel.Open(filepath.Join(t.TempDir(), name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rm.Close() })
		if before != nil {
			before(rm)
		}
		r, err := projections.NewRunner(recallreport.Projection{}, rm)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.HandleBatch(projections.Batch{Events: evs}); err != nil {
			t.Fatal(err)
		}
		return rm
	}
	old := func(rm *readmodel.Store) {
		// a row of the kind an earlier version wrote: a message's chat type
		if err := rm.Update(recallreport.Name, func(tx projections.Tx) error { return tx.Set([]byte("m\x00acme/chat\x00older"), []byte("chat")) }); err != nil {
			t.Fatal(err)
		}
	}
	return open("counts", nil), open("rows", old)
}

// Reports read from the quarter-hour counts equal reports read from every
// attempt row, for periods that start and end anywhere, in zones offset
// by whole hours, half hours and quarter hours, across a DST change.
func TestReportsFromCountsEqualReportsFromEveryAttempt(t *testing.T) {
	tn, _ := domain.ParseTenant("acme/chat")
	rng := rand.New(rand.NewPCG(5, 6))
	base := time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC) // a week around New York's DST change
	var evs []domain.Event
	reasons := []domain.Reason{domain.ReasonExceedTimeLimit, domain.ReasonForbidden, domain.ReasonAlreadyRecalled}
	for i := range 4000 {
		at := base.Add(time.Duration(rng.Int64N(int64(7 * 24 * time.Hour))))
		id := domain.MsgID(fmt.Sprint("m", i))
		chat := []domain.ChatType{domain.ChatSingle, domain.ChatGroup}[rng.IntN(2)]
		s := domain.NewEvent(uuid.NewString(), tn, at.Add(-time.Minute), domain.MessageSent{MsgID: id, ChatType: chat, From: "alice", To: "bob", MsgType: "txt"})
		elapsed := rng.Int64N(900_000)
		var a domain.Event
		if rng.IntN(3) == 0 {
			a = domain.NewEvent(uuid.NewString(), tn, at, domain.MessageRecalled{MsgID: id, Actor: "alice", Platform: []string{"ios", "web"}[rng.IntN(2)], ElapsedMs: elapsed})
		} else {
			a = domain.NewEvent(uuid.NewString(), tn, at, domain.RecallRejected{MsgID: id, Actor: "bob", Platform: "android", Reason: reasons[rng.IntN(3)], ElapsedMs: elapsed})
		}
		evs = append(evs, s, a)
	}
	for i := range evs {
		evs[i].Position = uint64(i + 1)
	}
	counts, rows := reportStores(t, evs)
	zones := []string{"UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Shanghai"}
	for i := range 60 {
		from := base.Add(time.Duration(rng.Int64N(int64(6 * 24 * time.Hour))))
		to := from.Add(time.Duration(rng.Int64N(int64(3 * 24 * time.Hour))))
		if i == 0 {
			from, to = base.Add(-time.Hour), base.Add(8*24*time.Hour) // everything
		}
		loc, err := time.LoadLocation(zones[i%len(zones)])
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range recallreport.GroupBys {
			a, err := recallreport.Query(counts, tn.String(), from, to, g, loc)
			if err != nil {
				t.Fatal(err)
			}
			b, err := recallreport.Query(rows, tn.String(), from, to, g, loc)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(a.Rows) != fmt.Sprint(b.Rows) {
				t.Fatalf("%s in %s over [%v, %v):\n counts %v\n rows   %v", g, loc, from, to, a.Rows, b.Rows)
			}
			if i == 0 && g == "outcome" {
				total := int64(0)
				for _, r := range a.Rows {
					total += r.Attempts
				}
				if total != 4000 {
					t.Fatalf("the whole week holds %d attempts, want 4000", total)
				}
			}
		}
	}
}
