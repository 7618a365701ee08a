package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/recallledger/recall/adapters/console/consoletest"
	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/cmd/internal/synthetic"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/projections/catalog"
)

// The console's benchmarks, over one tenant holding a million events (30
// days of sends, reads and recall attempts, more than 100,000 of them):
// each page's data as the page asks for it, the overview drawn in
// headless Chromium, and a 30-day what-if. `make bench-console` runs them;
// RECALL_CONSOLE_BENCH_EVENTS changes the size. Each figure is printed as
// a JSON line, like recallbench's, and none is asserted: speed is
// measured, never tested.

// benchData is a data directory with the tenant's history written and
// its read models caught up, made once per test binary run.
var benchData struct {
	once     sync.Once
	dir      string
	err      error
	attempts int
	events   int
	now      time.Time
}

// TestMain removes the benchmarks' data directory when the run ends,
// unless RECALL_CONSOLE_BENCH_DIR named one to keep (and reuse).
func TestMain(m *testing.M) {
	code := m.Run()
	if benchData.dir != "" && os.Getenv("RECALL_CONSOLE_BENCH_DIR") == "" {
		os.RemoveAll(benchData.dir)
	}
	os.Exit(code)
}

// benchState is what a kept data directory remembers of its history.
type benchState struct {
	Events, Attempts int
	Now              time.Time
}

func benchEvents() int {
	if n, err := strconv.Atoi(os.Getenv("RECALL_CONSOLE_BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// consoleBenchServer starts recalld over the benchmark's data directory
// (the standing clock at the end of its history) and signs alice in.
func consoleBenchServer(b *testing.B) (*server, *browser, time.Time) {
	b.Helper()
	benchData.once.Do(func() {
		// RECALL_CONSOLE_BENCH_DIR keeps the history between runs (it takes
		// minutes to write); a directory that holds one is used as it is
		keep := os.Getenv("RECALL_CONSOLE_BENCH_DIR")
		if keep != "" {
			benchData.dir = keep
			if raw, err := os.ReadFile(filepath.Join(keep, "bench.json")); err == nil {
				var st benchState
				if benchData.err = json.Unmarshal(raw, &st); benchData.err == nil {
					benchData.events, benchData.attempts, benchData.now = st.Events, st.Attempts, st.Now
				}
				return
			}
		} else if benchData.dir, benchData.err = os.MkdirTemp("", "recall-console-bench-"); benchData.err != nil {
			return
		}
		benchData.now = time.Now().Truncate(time.Second)
		benchData.events, benchData.attempts, benchData.err = writeConsoleHistory(benchData.dir, benchEvents(), benchData.now)
		if benchData.err == nil && keep != "" {
			raw, _ := json.Marshal(benchState{benchData.events, benchData.attempts, benchData.now})
			benchData.err = os.WriteFile(filepath.Join(keep, "bench.json"), raw, 0o644)
		}
	})
	if benchData.err != nil {
		b.Fatal(benchData.err)
	}
	s := startServerConfigured(b, benchData.dir, signInConfig(clocktest.New(benchData.now)))
	pw := s.operatorWithPassword("alice")
	br := s.browser()
	br.login("a/a", "alice", pw)
	return s, br, benchData.now
}

// writeConsoleHistory writes n events of tenant a/a over the 30 days
// before now straight into the data directory's event store (64 writers,
// each message's history one append), then brings every read model up to
// date, as a rebuild does.
func writeConsoleHistory(dir string, n int, now time.Time) (events, attempts int, err error) {
	store, err := embedded.Open(filepath.Join(dir, "events"))
	if err != nil {
		return 0, 0, err
	}
	defer store.Close()
	tn, _ := domain.ParseTenant("a/a")
	start := now.Add(-30 * 24 * time.Hour)
	perMsg := 30 * 24 * time.Hour / time.Duration(n*10/18) // about 1.8 events a message
	var written, tried, next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for w := range 64 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 11))
			for written.Load() < int64(n) {
				at := start.Add(time.Duration(next.Add(1)) * perMsg)
				if !at.Before(now.Add(-10 * time.Minute)) {
					return
				}
				stream, evs, attempt := consoleTraffic.Message(rng, tn, at)
				if _, err := store.Append(context.Background(), stream, domain.NoStream, evs); err != nil {
					errc <- err
					return
				}
				written.Add(int64(len(evs)))
				if attempt {
					tried.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return 0, 0, err
	}
	if err := catchUpReadModels(filepath.Join(dir, "readmodels"), store); err != nil {
		return 0, 0, err
	}
	return int(written.Load()), int(tried.Load()), nil
}

// consoleTraffic is the benchmark tenant's: 2,000 users (a quarter of
// the messages in one of 100 groups), and in 27 of 100 messages a recall
// attempt within 240 s — a timeout past 120 s, one in six of the others
// u0's, refused, the rest recalled.
var consoleTraffic = synthetic.Traffic{Users: 2000, Groups: 100, Content: "see you at the station at nine",
	AttemptsPercent: 27, MaxElapsed: 240 * time.Second, ForbiddenOneIn: 6}

// catchUpReadModels brings every read model in dir up to date with store,
// each on its own, as a rebuild does.
func catchUpReadModels(dir string, store domain.EventStore) error {
	rm, err := readmodel.Open(dir)
	if err != nil {
		return err
	}
	defer rm.Close()
	runners, err := catalog.Runners(rm)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(runners))
	for i, r := range runners {
		wg.Go(func() { _, errs[i] = r.CatchUp(context.Background(), store, 2000, nil) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// benchLine prints one figure as a JSON line.
func benchLine(b *testing.B, fields map[string]any) {
	b.Helper()
	fields["events"], fields["attempts_in_log"] = benchData.events, benchData.attempts
	raw, err := json.Marshal(fields)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Println(string(raw))
}

func msPercentiles(ds []time.Duration) (p50, p99, max float64) {
	slices.Sort(ds)
	at := func(q float64) float64 { return float64(ds[int(q*float64(len(ds)-1))].Microseconds()) / 1000 }
	return at(0.5), at(0.99), at(1)
}

// BenchmarkConsolePageData asks each page's data as the page does (the
// overview's five reports at once, as it asks them, for 24 hours and for
// 30 days) and reports p50 and p99 per page.
func BenchmarkConsolePageData(b *testing.B) {
	s, br, now := consoleBenchServer(b)
	get := func(path string) {
		r := br.call("GET", path, "")
		if r.status != http.StatusOK {
			b.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
	}
	all := func(paths ...string) func() {
		return func() {
			var wg sync.WaitGroup
			for _, p := range paths {
				wg.Go(func() { get(p) })
			}
			wg.Wait()
		}
	}
	overview := func(from time.Time, step string) func() {
		q := fmt.Sprintf("/v1/a/a/reports/recalls?from=%s&to=%s&tz=Asia%%2FShanghai&group_by=", from.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		return all(q+step, q+"platform", q+"chat_type", q+"outcome", q+"elapsed", "/v1/a/a/policy")
	}
	// a message with a story: the last recall attempt's
	var page struct {
		Entries []struct {
			MsgID string `json:"msg_id"`
		} `json:"entries"`
	}
	r := br.call("GET", "/v1/a/a/audit?action=recall&limit=1", "")
	if json.Unmarshal(r.body, &page) != nil || len(page.Entries) == 0 {
		b.Fatalf("no recall to tell the story of: %s", r.body)
	}
	msg := page.Entries[0].MsgID
	pages := []struct {
		name string
		load func()
	}{
		{"overview-24h", overview(now.Add(-24*time.Hour), "hour")},
		{"overview-7d", overview(now.Add(-7*24*time.Hour), "day")},
		{"overview-30d", overview(now.Add(-30*24*time.Hour), "day")},
		{"recalls", all("/v1/a/a/audit?action=recall&limit=50&format=json")},
		{"recalls-by-actor", all("/v1/a/a/audit?action=recall&actor=u7&limit=50&format=json")},
		{"message-story", all("/v1/a/a/messages/"+msg+"/history", "/v1/a/a/audit?msg_id="+msg+"&limit=200&format=json")},
		{"audit", all("/v1/a/a/audit?limit=50&format=json")},
		{"policy", all("/v1/a/a/policy", "/v1/a/a/policy/history")},
		{"operators", all("/v1/a/a/operators")},
	}
	const samples = 100
	for b.Loop() {
		for _, p := range pages {
			p.load() // warm
			lat := make([]time.Duration, samples)
			for i := range lat {
				t0 := time.Now()
				p.load()
				lat[i] = time.Since(t0)
			}
			p50, p99, mx := msPercentiles(lat)
			benchLine(b, map[string]any{"scenario": "console-page-data", "page": p.name, "n": samples, "p50_ms": p50, "p99_ms": p99, "max_ms": mx})
		}
	}
	_ = s
}

// BenchmarkPolicySimulate30Days times a what-if over the last 30 days.
func BenchmarkPolicySimulate30Days(b *testing.B) {
	_, br, now := consoleBenchServer(b)
	body := fmt.Sprintf(`{"policy":{"sender_window_s":300,"block_after_read":true},"from":%q,"to":%q}`,
		now.Add(-30*24*time.Hour).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	var lat []time.Duration
	var attempts, changed int
	for b.Loop() {
		for range 5 {
			t0 := time.Now()
			r := br.call("POST", "/v1/a/a/policy/simulate", body)
			lat = append(lat, time.Since(t0))
			var sim struct{ Attempts, Changed int }
			if r.status != http.StatusOK || json.Unmarshal(r.body, &sim) != nil {
				b.Fatalf("simulate: %d %s", r.status, r.body)
			}
			attempts, changed = sim.Attempts, sim.Changed
		}
	}
	p50, p99, mx := msPercentiles(lat)
	benchLine(b, map[string]any{"scenario": "console-simulate-30d", "n": len(lat), "simulated_attempts": attempts, "changed": changed, "p50_ms": p50, "p99_ms": p99, "max_ms": mx})
}

// BenchmarkConsoleOverviewRender loads the overview in headless Chromium,
// signed in, and times it from navigation to every KPI and both charts
// drawn, for the default 24 hours and for 30 days.
func BenchmarkConsoleOverviewRender(b *testing.B) {
	s, _, _ := consoleBenchServer(b)
	pw := s.operatorWithPassword("bob")
	p := consoletest.NewBrowser(b).NewPage(b)
	p.AllowFailedRequests("/console/api/session")
	p.Open(s.base+"/console/", `[data-testid="login-form"]`)
	fill(p, `input[name="tenant"]`, "a/a")
	fill(p, `input[name="username"]`, "bob")
	fill(p, `input[name="password"]`, pw)
	p.Run(chromedp.Click(chromedp.CSS(`[data-testid="login-submit"]`)))
	p.Run(chromedp.WaitVisible(chromedp.CSS(`[data-testid="kpi-attempts"]`)))
	drawn := `document.querySelectorAll('[data-testid="chart-trend"] canvas, [data-testid="chart-elapsed"] canvas').length >= 2 && !!document.querySelector('[data-testid="kpi-attempts"]')`
	var d24, d30 []time.Duration
	for b.Loop() {
		for range 10 {
			// a fresh load, the app's scripts from the cache as a returning
			// operator has them
			t0 := time.Now()
			p.Run(chromedp.Navigate(s.base + "/console/"))
			consoletest.Get(p, chromedp.Poll[bool](drawn, chromedp.WithPollingInterval(5*time.Millisecond)))
			d24 = append(d24, time.Since(t0))
			t0 = time.Now()
			clickText(b, p, `.segmented button`, "30 days")
			consoletest.Get(p, chromedp.Poll[bool](`!!document.querySelector('[data-testid="chart-trend-data"]') && document.querySelectorAll('[data-testid="chart-trend-data"] tbody tr').length === 30`,
				chromedp.WithPollingInterval(5*time.Millisecond)))
			d30 = append(d30, time.Since(t0))
		}
	}
	// the page asks for "the last 24 hours" by the browser's clock: a kept
	// history written long ago has left that window (its age says so)
	age := time.Since(benchData.now).Round(time.Minute).Minutes()
	for name, ds := range map[string][]time.Duration{"overview-24h": d24, "overview-30d-switch": d30} {
		p50, p99, mx := msPercentiles(ds)
		benchLine(b, map[string]any{"scenario": "console-render", "page": name, "n": len(ds), "p50_ms": p50, "p99_ms": p99, "max_ms": mx, "history_age_min": age})
	}
	p.DocScreenshot("overview-1m-events")
}
