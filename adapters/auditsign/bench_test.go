package auditsign_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/auditsign"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
)

// BenchmarkAuditAppendWhileSigning shows that signing checkpoints is off
// the append path: entries are applied one at a time, as live, with no
// signer and then with a signer signing a new checkpoint as fast as the
// tree grows (Every: 1, in a loop), in one run. The signer reads snapshots
// and writes its own namespace, so an append never waits for a signature:
// the two ns/op lines should match within noise, while the second also
// reports how many checkpoints were signed meanwhile.
func BenchmarkAuditAppendWhileSigning(b *testing.B) {
	tn, _ := domain.ParseTenant("bench/sign")
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	for _, signing := range []bool{false, true} {
		name := "no_signer"
		if signing {
			name = "signer_signing_continuously"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			rm, err := readmodel.Open(filepath.Join(dir, "rm"))
			if err != nil {
				b.Fatal(err)
			}
			defer rm.Close()
			audit, err := projections.NewRunner(auditlog.Projection{}, rm)
			if err != nil {
				b.Fatal(err)
			}
			evs := make([]domain.Event, b.N)
			for i := range evs {
				e, err := domain.NewEvent(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), tn, at, domain.TypeMessageSent, domain.MessageSent{
					MsgID: domain.MsgID(fmt.Sprint("m", i)), ConversationID: "chat:alice:bob", ChatType: "chat", From: "alice", To: "bob", MsgType: "txt", Content: "hello", ContentSHA256: "ab"})
				if err != nil {
					b.Fatal(err)
				}
				e.Position = uint64(i + 1)
				evs[i] = e
			}
			var signed atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if signing {
				if _, _, err := auditsign.LoadOrCreateKey(dir, "bench"); err != nil {
					b.Fatal(err)
				}
				s, err := auditsign.New(rm, dir, func() ([]domain.Tenant, error) { return []domain.Tenant{tn}, nil }, auditsign.Config{Every: 1})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				wg.Go(func() {
					last := uint64(0)
					for {
						select {
						case <-stop:
							return
						default:
						}
						if err := s.Round(context.Background()); err != nil {
							b.Error(err)
							return
						}
						if cp, ok, _ := s.Latest(tn.String()); ok && cp.Size != last {
							last = cp.Size
							signed.Add(1)
						}
					}
				})
			}
			b.ResetTimer()
			for _, e := range evs {
				if err := audit.Handle(e); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			close(stop)
			wg.Wait()
			b.ReportMetric(float64(signed.Load()), "checkpoints_signed")
		})
	}
}
