package readmodel_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections/catalog"
)

// BenchmarkRebuild measures rebuilding all three read models from a log of
// sends, reads and recalls, in batches as `recallctl projections rebuild`
// does. It reports events/s over all projections' passes.
func BenchmarkRebuild(b *testing.B) {
	const n = 50_000
	dir := b.TempDir()
	store, err := embedded.Open(filepath.Join(dir, "events"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	tn, _ := domain.ParseTenant("bench/app")
	ctx := context.Background()
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	batch := make([]domain.Event, 0, 100)
	for i := 0; i < n; i += len(batch) {
		batch = batch[:0]
		for j := 0; j < 100; j++ {
			id := domain.MsgID(fmt.Sprint("m", i+j))
			var e domain.Event
			switch j % 4 {
			case 0, 1:
				e, _ = domain.NewEvent(uuid.NewString(), tn, at, domain.TypeMessageSent, domain.MessageSent{MsgID: id, ConversationID: fmt.Sprint("chat:u", j%7, ":v", j%5),
					ChatType: "chat", From: "alice", To: "bob", MsgType: "txt", Content: "hello there, see you at nine", ContentSHA256: "ab", Platform: "ios"})
			case 2:
				e, _ = domain.NewEvent(uuid.NewString(), tn, at, domain.TypeMessageRead, domain.MessageRead{MsgID: domain.MsgID(fmt.Sprint("m", i+j-2)), Reader: "bob", Platform: "ios"})
			case 3:
				e, _ = domain.NewEvent(uuid.NewString(), tn, at, domain.TypeMessageRecalled, domain.MessageRecalled{MsgID: domain.MsgID(fmt.Sprint("m", i+j-2)), Actor: "alice", ActorRole: "member", Platform: "ios", ElapsedMs: 1500, WindowMs: 120000})
			}
			batch = append(batch, e)
		}
		if _, err := store.Append(ctx, fmt.Sprint("bench-", i), domain.NoStream, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	total := 0
	for range b.N {
		rm, err := readmodel.Open(filepath.Join(b.TempDir(), "rm"))
		if err != nil {
			b.Fatal(err)
		}
		runners, _ := catalog.Runners(rm)
		for _, r := range runners {
			n, err := r.CatchUp(ctx, store, 2000, nil)
			if err != nil {
				b.Fatal(err)
			}
			total += n
		}
		rm.Close()
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
}
