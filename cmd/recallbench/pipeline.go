package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/recallledger/recall/adapters/feedbus"
	"github.com/recallledger/recall/domain"
)

// benchPipeline measures what an acknowledged send costs the process that
// stores it with its read models live, without HTTP: 64 writers append
// c.appends sends (a quarter to groups) as fast as the store takes them,
// while the projections follow through the watermill router, until every
// projection has applied the last. It reports the process's CPU per event
// (the writers' own work is in it: making an event, waiting for it) and
// the bytes each pebble wrote per event: to its log, and flushed plus
// compacted, the work that comes back as compaction CPU.
func benchPipeline(ctx context.Context, c *config) error {
	return withStack(ctx, c, 0, func(st *stack) error {
		fctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- feedbus.Run(fctx, st.store, st.runners, slog.New(slog.DiscardHandler)) }()
		stopFeed := func() {
			cancel()
			<-done
		}
		defer stopFeed()
		tn, _ := domain.ParseTenant("bench/app")
		n := c.appends
		evs, streams := make([]domain.Event, n), make([]string, n)
		at := time.Now()
		for i := range evs {
			id := domain.MsgID(fmt.Sprint("m", i))
			to, chat := domain.UserID(fmt.Sprint("u", (i+1)%997)), domain.ChatSingle
			if (i+1)%4 == 0 {
				to, chat = domain.UserID(fmt.Sprint("g", i%53)), domain.ChatGroup
			}
			evs[i], streams[i] = sendEvent(tn, at, domain.UserID(fmt.Sprint("u", i%997)), to, chat, id), domain.MessageStream(tn, id)
		}
		cpu0, err := procCPU(os.Getpid())
		if err != nil {
			return err
		}
		var failed atomic.Int64
		start := time.Now()
		_ = pool(ctx, 64, n, func(_, i int) error { // its jobs count their failures
			if _, err := st.store.Append(ctx, streams[i], domain.NoStream, evs[i:i+1]); err != nil {
				failed.Add(1)
			}
			if i%1000 == 0 {
				c.progress.Show("pipeline: %d/%d", i, n)
			}
			return nil
		})
		for head := st.store.Head(); ctx.Err() == nil; time.Sleep(time.Millisecond) {
			caughtUp := true
			for _, r := range st.runners {
				caughtUp = caughtUp && r.Position() >= head
			}
			if caughtUp {
				break
			}
		}
		elapsed := time.Since(start)
		cpu1, err := procCPU(os.Getpid())
		if err != nil {
			return err
		}
		es, rm := st.store.Metrics(), st.rm.Metrics()
		note := fmt.Sprintf("bytes per event: log %s (events) + %s (read models); flushed+compacted %s + %s; flushes %d + %d, compactions %d + %d",
			perEvent(es.WAL.BytesIn, n), perEvent(rm.WAL.BytesIn, n), perEvent(rewritten(es), n), perEvent(rewritten(rm), n),
			es.Flush.Count, rm.Flush.Count, es.Compact.Count, rm.Compact.Count)
		return c.emit(result{Scenario: "pipeline", Concurrency: 64, N: n, EventsPerS: round(float64(n) / elapsed.Seconds()),
			CPUPerRequestUs: round2(float64((cpu1 - cpu0).Microseconds()) / float64(n)), Errors: int(failed.Load()), Note: note})
	})
}

func rewritten(m *pebble.Metrics) uint64 {
	t := m.Total()
	return t.BytesFlushed + t.BytesCompacted
}

func perEvent(bytes uint64, n int) string { return strconv.FormatUint(bytes/uint64(max(n, 1)), 10) }
