package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/feedbus"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/cmd/internal/synthetic"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
	"github.com/recallledger/recall/projections/catalog"
)

// tempDir makes a fresh directory removed when the scenario ends.
func tempDir() (string, func(), error) {
	dir, err := os.MkdirTemp("", "recallbench-")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

var benchContent = "see you at the station at nine, bring the tickets and the umbrella"

// sendEvent is a ~320-byte MessageSent like a real one.
func sendEvent(tn domain.Tenant, at time.Time, from, to domain.UserID, chat domain.ChatType, id domain.MsgID) domain.Event {
	return traffic.Send(tn, at, from, to, chat, id)
}

// benchAppend measures durable single-event appends, each a send to its own
// stream, at concurrency 1, 8 and 64, and beside each the raw storage
// engine doing the same number of synced writes of the same size.
func benchAppend(ctx context.Context, c *config) error {
	tn, _ := domain.ParseTenant("bench/app")
	for _, conc := range []int{1, 8, 64} {
		n := c.appends
		if conc == 1 {
			n = max(min(2000, c.appends), c.appends/6) // one writer is bound by the fsync rate
		}
		dir, cleanup, err := tempDir()
		if err != nil {
			return err
		}
		store, err := embedded.OpenWith(filepath.Join(dir, "events"), embedded.Options{FS: c.fs})
		if err != nil {
			cleanup()
			return err
		}
		// the events are made before the clock starts: the baseline writes
		// ready-made values too, and making them is the caller's work
		lat := make([]time.Duration, n)
		evs, streams := make([]domain.Event, n), make([]string, n)
		at := time.Now()
		for i := range evs {
			id := domain.MsgID(fmt.Sprint("m", i))
			evs[i], streams[i] = sendEvent(tn, at, "alice", "bob", domain.ChatSingle, id), domain.MessageStream(tn, id)
		}
		var failed atomic.Int64
		start := time.Now()
		_ = pool(ctx, conc, n, func(_, i int) error { // its jobs count their failures
			t0 := time.Now()
			if _, err := store.Append(ctx, streams[i], domain.NoStream, evs[i:i+1]); err != nil {
				failed.Add(1)
				return nil
			}
			lat[i] = time.Since(t0)
			if i%1000 == 0 {
				c.progress.Show("append concurrency %d: %d/%d", conc, i, n)
			}
			return nil
		})
		elapsed := time.Since(start)
		store.Close()
		baseline, err := rawPebble(ctx, c.fs, filepath.Join(dir, "raw"), conc, n)
		cleanup()
		if err != nil {
			return err
		}
		rate := float64(n) / elapsed.Seconds()
		p50, p99 := percentiles(lat)
		if err := c.emit(result{Scenario: "append", Concurrency: conc, N: n, EventsPerS: round(rate), BaselinePerS: round(baseline),
			RatioToBaseline: round2(baseline / rate), P50Ms: p50, P99Ms: p99, Errors: int(failed.Load())}); err != nil {
			return err
		}
	}
	return nil
}

func round(v float64) float64  { return float64(int64(v + 0.5)) }
func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// history writes about n events of a realistic mix straight into store:
// several tenants, one-to-one and group chats, each message's history
// (traffic.Message) appended as one stream by 64 writers.
func history(ctx context.Context, c *config, store *embedded.Store, n int) error {
	tenants := make([]domain.Tenant, 20)
	for i := range tenants {
		tenants[i], _ = domain.ParseTenant(fmt.Sprintf("org%d/app", i))
	}
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var written atomic.Int64
	// the pool stops taking messages once enough events are written; the
	// appends under way still finish on ctx
	more, enough := context.WithCancel(ctx)
	defer enough()
	rngs := make([]*rand.Rand, 64)
	for w := range rngs {
		rngs[w] = rand.New(rand.NewPCG(uint64(w), 7))
	}
	return pool(more, len(rngs), -1, func(w, i int) error {
		rng := rngs[w]
		stream, evs, _ := traffic.Message(rng, tenants[rng.IntN(len(tenants))], base.Add(time.Duration(i+1)*50*time.Millisecond))
		if _, err := store.Append(ctx, stream, domain.NoStream, evs); err != nil {
			return err
		}
		total := written.Add(int64(len(evs)))
		if total%10_000 < int64(len(evs)) {
			c.progress.Show("writing history: %d/%d events", total, n)
		}
		if total >= int64(n) {
			enough()
		}
		return nil
	})
}

// traffic is what the history scenarios write: 500 users, 50
// groups, a recall attempt on 12% of the messages within 200 s (some
// refused, some after the window).
var traffic = synthetic.Traffic{Users: 500, Groups: 50, Content: benchContent, AttemptsPercent: 12, MaxElapsed: 200 * time.Second, ForbiddenOneIn: 5}

// stack is a fresh event store with the read models beside it.
type stack struct {
	store   *embedded.Store
	rm      *readmodel.Store
	runners []*projections.Runner
}

// withStack opens a fresh stack holding about n events of history (none
// when n is 0), runs fn, and removes it all.
func withStack(ctx context.Context, c *config, n int, fn func(st *stack) error) error {
	dir, cleanup, err := tempDir()
	if err != nil {
		return err
	}
	defer cleanup()
	st := &stack{}
	if st.store, err = embedded.OpenWith(filepath.Join(dir, "events"), embedded.Options{FS: c.fs}); err != nil {
		return err
	}
	defer st.store.Close()
	if st.rm, err = readmodel.Open(filepath.Join(dir, "readmodels")); err != nil {
		return err
	}
	defer st.rm.Close()
	if st.runners, err = catalog.Runners(st.rm); err != nil {
		return err
	}
	if n > 0 {
		if err := history(ctx, c, st.store, n); err != nil {
			return err
		}
	}
	return fn(st)
}

// rebuild feeds every stored event to runner in batches, as recallctl does.
func rebuild(ctx context.Context, c *config, store *embedded.Store, r *projections.Runner) (int, error) {
	head := store.Head()
	return r.CatchUp(ctx, store, 2000, func(pos uint64) { c.progress.Show("rebuilding %s: %d/%d", r.Name(), pos, head) })
}

// benchRebuild rebuilds each read model from a history of c.events.
func benchRebuild(ctx context.Context, c *config) error {
	return withStack(ctx, c, c.events, func(st *stack) error {
		for _, r := range st.runners {
			start := time.Now()
			n, err := rebuild(ctx, c, st.store, r)
			if err != nil {
				return err
			}
			if err := c.emit(result{Scenario: "rebuild", N: n, EventsPerS: round(float64(n) / time.Since(start).Seconds()), Note: r.Name()}); err != nil {
				return err
			}
		}
		return nil
	})
}

// benchLag appends sends at a steady 5,000 events/s while the three
// projections run through the watermill router, and measures the time
// from an append's acknowledgement to every projection having committed it.
func benchLag(ctx context.Context, c *config) error {
	return withStack(ctx, c, 0, func(st *stack) error { return lag(ctx, c, st.store, st.runners) })
}

func lag(ctx context.Context, c *config, store *embedded.Store, runners []*projections.Runner) error {
	const rate = 5000
	var mu sync.Mutex
	acked := map[uint64]time.Time{}
	var lags []time.Duration
	var seen uint64
	minPos := func() uint64 {
		m := runners[0].Position()
		for _, r := range runners[1:] {
			m = min(m, r.Position())
		}
		return m
	}
	for _, r := range runners {
		r.Watch(func(domain.Event) {
			now, p := time.Now(), minPos()
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
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- feedbus.Run(fctx, store, runners, slog.New(slog.DiscardHandler)) }()
	tn, _ := domain.ParseTenant("bench/app")
	const perTick = 10
	tick := time.NewTicker(time.Second / (rate / perTick))
	defer tick.Stop()
	var wg sync.WaitGroup
	n := 0
	start := time.Now()
	for time.Since(start) < c.duration && ctx.Err() == nil {
		<-tick.C
		for range perTick {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				id := domain.MsgID(fmt.Sprint("m", i))
				out, err := store.Append(ctx, domain.MessageStream(tn, id), domain.NoStream, []domain.Event{sendEvent(tn, time.Now(), "alice", "bob", domain.ChatSingle, id)})
				if err != nil {
					return
				}
				now := time.Now()
				mu.Lock()
				if out.Events[0].Position > seen {
					acked[out.Events[0].Position] = now
				}
				mu.Unlock()
			}(n)
			n++
		}
		c.progress.Show("lag: %d events sent", n)
	}
	wg.Wait()
	elapsed := time.Since(start)
	for deadline := time.Now().Add(10 * time.Second); minPos() < store.Head() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	p50, p99 := percentiles(lags)
	measured := len(lags)
	mu.Unlock()
	return c.emit(result{Scenario: "lag", N: measured, EventsPerS: round(float64(n) / elapsed.Seconds()), TargetRate: rate, P50Ms: p50, P99Ms: p99})
}

// benchAuditQuery builds the audit log of c.events and times filtered
// pages: by actor, message, conversation, action and outcome, time range.
func benchAuditQuery(ctx context.Context, c *config) error {
	return withStack(ctx, c, c.events, func(st *stack) error {
		for _, r := range st.runners {
			if r.Name() != auditlog.Name {
				continue
			}
			if _, err := rebuild(ctx, c, st.store, r); err != nil {
				return err
			}
		}
		sample, err := st.store.ReadAll(ctx, st.store.Head()/2, "", 1000)
		if err != nil {
			return err
		}
		// A rebuild writes the whole audit log in minutes, which leaves pebble
		// owing compactions a store grown over months would have done: the
		// first pass shows queries against that, the second the steady state
		// (with a cache the first pass warmed, which the note says).
		if err := auditQueries(ctx, c, st, sample, 1, "first pass right after the rebuild"); err != nil {
			return err
		}
		start := time.Now()
		for !settled(st.rm) && time.Since(start) < c.settle && ctx.Err() == nil {
			c.progress.Show("waiting for pebble's compactions to settle: %s", time.Since(start).Round(time.Second))
			time.Sleep(time.Second)
		}
		compactions := fmt.Sprintf("compactions settled after %s", time.Since(start).Round(time.Second))
		switch {
		case settled(st.rm):
		case c.settle == 0:
			compactions = "compactions not waited for (--settle-timeout 0)"
		default:
			compactions = fmt.Sprintf("compactions still owed after %s", c.settle)
		}
		return auditQueries(ctx, c, st, sample, 2, "second pass (other queries, cache warmed by the first), "+compactions)
	})
}

// settled reports whether the read models' pebble owes no flush or
// compaction work: a store just bulk-written is not in its steady state.
func settled(rm *readmodel.Store) bool {
	m := rm.Metrics()
	return m.Flush.NumInProgress == 0 && m.Compact.NumInProgress == 0 && m.Compact.EstimatedDebt == 0
}

// auditQueries times c.queries (2,000 by default) filtered audit pages of
// 50, a fifth each by actor, message, conversation, action and outcome, and
// an hour; the seed picks which, so a second pass asks what the first did
// not.
func auditQueries(ctx context.Context, c *config, st *stack, sample []domain.Event, seed uint64, when string) error {
	rng := rand.New(rand.NewPCG(seed, 4))
	queries := c.queries
	kinds := []string{"actor", "msg_id", "conversation", "action+outcome", "hour"}
	lat := make([]time.Duration, 0, queries)
	byKind := make([][]time.Duration, len(kinds))
	for i := 0; i < queries && ctx.Err() == nil; i++ {
		e := sample[rng.IntN(len(sample))]
		f := auditlog.Filter{Limit: 50}
		switch i % 5 {
		case 0:
			f.Actor = fmt.Sprint("u", rng.IntN(500))
		case 1:
			if s, ok := e.Data.(domain.MessageSent); ok {
				f.MsgID = string(s.MsgID)
			} else {
				f.Action = "recall"
			}
		case 2:
			f.ConversationID = fmt.Sprint("groupchat:g", rng.IntN(50))
		case 3:
			f.Action, f.Outcome = "recall", "refused"
		case 4:
			f.From = e.OccurredAt.Time()
			f.To = f.From.Add(time.Hour)
		}
		t0 := time.Now()
		if _, err := auditlog.Query(st.rm, e.Tenant, f); err != nil {
			return err
		}
		d := time.Since(t0)
		lat = append(lat, d)
		byKind[i%5] = append(byKind[i%5], d)
		c.progress.Show("audit queries (%s): %d/%d", when, i, queries)
	}
	p50, p99 := percentiles(lat)
	note := fmt.Sprintf("%d filtered pages of 50, %s; p50/p99 ms by filter:", len(lat), when)
	for k, ds := range byKind {
		kp50, kp99 := percentiles(ds)
		note += fmt.Sprintf(" %s %.1f/%.1f", kinds[k], kp50, kp99)
	}
	return c.emit(result{Scenario: "audit-query", N: int(st.store.Head()), P50Ms: p50, P99Ms: p99, Note: note})
}

// benchMemory reports this process's resident memory as the history held
// by its store and read models grows.
func benchMemory(ctx context.Context, c *config) error {
	// what earlier scenarios of this run left behind is not this one's
	debug.FreeOSMemory()
	return withStack(ctx, c, 0, func(st *stack) error { return memory(ctx, c, st.store, st.runners) })
}

func memory(ctx context.Context, c *config, store *embedded.Store, runners []*projections.Runner) error {
	for _, frac := range []int{25, 50, 100} {
		if err := history(ctx, c, store, c.events*frac/100-int(store.Head())); err != nil {
			return err
		}
		for _, r := range runners {
			if _, err := r.CatchUp(ctx, store, 2000, nil); err != nil {
				return err
			}
		}
		if err := c.emit(result{Scenario: "memory", N: int(store.Head()), RSSMB: round2(rssMB())}); err != nil {
			return err
		}
	}
	return nil
}
