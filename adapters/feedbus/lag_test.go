package feedbus

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/eventstore/eventstoretest"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections/all"
)

// BenchmarkLiveLag appends at a steady rate while the three projections
// run through the watermill router, and reports the lag from an append's
// acknowledgement to the moment every projection has committed it.
func BenchmarkLiveLag(b *testing.B) {
	const rate = 5000
	const seconds = 2
	store := openStore(b)
	rm, err := readmodel.Open(filepath.Join(b.TempDir(), "rm"))
	if err != nil {
		b.Fatal(err)
	}
	defer rm.Close()
	runners, _ := all.Runners(rm)
	var mu sync.Mutex
	acked := map[uint64]time.Time{}
	var lags []time.Duration
	minPos := func() uint64 {
		m := runners[0].Position()
		for _, r := range runners[1:] {
			m = min(m, r.Position())
		}
		return m
	}
	var seen uint64
	for _, r := range runners {
		r.Watch(func(domain.Event) {
			now := time.Now()
			p := minPos()
			mu.Lock()
			for ; seen < p; seen++ {
				if t, ok := acked[seen+1]; ok {
					lags = append(lags, now.Sub(t))
					delete(acked, seen+1)
				}
			}
			mu.Unlock()
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, store, runners, slog.New(slog.DiscardHandler)) }()
	b.ResetTimer()
	tick := time.NewTicker(time.Second / rate * 10)
	defer tick.Stop()
	n := 0
	var wg sync.WaitGroup
	for start := time.Now(); time.Since(start) < seconds*time.Second; {
		<-tick.C
		for range 10 { // 10 writers a tick keeps the rate with fsync latency
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				tn := "a/a"
				out, err := store.Append(context.Background(), fmt.Sprint("x-a/a.", i), domain.NoStream, []domain.Event{eventstoretest.Event(b, tn, i)})
				if err != nil {
					b.Error(err)
					return
				}
				now := time.Now()
				mu.Lock()
				if out[0].Position > seen {
					acked[out[0].Position] = now
				}
				mu.Unlock()
			}(n)
			n++
		}
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for minPos() < store.Head() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lags)
	if len(lags) == 0 {
		b.Fatal("no lag measured")
	}
	b.ReportMetric(float64(n)/seconds, "events/s")
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99_ms")
}
