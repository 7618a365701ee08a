package auditlog

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
)

// benchEvents is a log of sends, reads and recalls, positions assigned.
func benchEvents(b *testing.B, n int) []domain.Event {
	b.Helper()
	tn, _ := domain.ParseTenant("bench/app")
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	evs := make([]domain.Event, 0, n)
	for i := 0; i < n; i++ {
		id := domain.MsgID(fmt.Sprint("m", i))
		var e domain.Event
		var err error
		switch i % 4 {
		case 0, 1:
			e, err = domain.NewEvent(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), tn, at, domain.TypeMessageSent, domain.MessageSent{MsgID: id, ConversationID: fmt.Sprint("chat:u", i%7, ":v", i%5),
				ChatType: "chat", From: "alice", To: "bob", MsgType: "txt", Content: "hello there, see you at nine", ContentSHA256: "ab", Platform: "ios"})
		case 2:
			e, err = domain.NewEvent(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), tn, at, domain.TypeMessageRead, domain.MessageRead{MsgID: domain.MsgID(fmt.Sprint("m", i-2)), Reader: "bob", Platform: "ios"})
		case 3:
			e, err = domain.NewEvent(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), tn, at, domain.TypeMessageRecalled, domain.MessageRecalled{MsgID: domain.MsgID(fmt.Sprint("m", i-2)), Actor: "alice", ActorRole: "member", Platform: "ios", ElapsedMs: 1500, WindowMs: 120000})
		}
		if err != nil {
			b.Fatal(err)
		}
		e.Position = uint64(i + 1)
		evs = append(evs, e)
	}
	return evs
}

// BenchmarkAuditRebuild measures rebuilding the audit log from position 0
// in batches of 2000, as `recallctl projections rebuild audit_log` does,
// with the Merkle tree and, in the same run, without it (the chain alone,
// as before the tree): the tree's cost is the ratio of the two lines.
func BenchmarkAuditRebuild(b *testing.B) {
	evs := benchEvents(b, 50_000)
	for _, c := range []struct {
		name string
		p    Projection
	}{{"chain_only_before", Projection{chainOnly: true}}, {"chain_and_tree", Projection{}}} {
		b.Run(c.name, func(b *testing.B) {
			total := 0
			for range b.N {
				rm, err := readmodel.Open(filepath.Join(b.TempDir(), "rm"))
				if err != nil {
					b.Fatal(err)
				}
				r, err := projections.NewRunner(c.p, rm)
				if err != nil {
					b.Fatal(err)
				}
				for i := 0; i < len(evs); i += 2000 {
					if err := r.HandleBatch(evs[i:min(i+2000, len(evs))]); err != nil {
						b.Fatal(err)
					}
				}
				total += len(evs)
				rm.Close()
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
