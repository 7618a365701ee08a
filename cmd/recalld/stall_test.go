package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/feedbus"
	"github.com/recallledger/recall/adapters/feedbus/feedbustest"
	"github.com/recallledger/recall/adapters/httpapi"
	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
)

// Never a healthy-looking process with a stalled projection: while one is
// not applying, /readyz is 503 naming it and the cause, /metrics counts its
// failures and shows it stalled; once it applies again both say so.
func TestStalledProjectionMakesReadinessFailNamingIt(t *testing.T) {
	for _, tc := range []struct {
		name, projection, cause, counter string
		breakIt                          func(*feedbustest.FailingFeed, *feedbustest.Poison, bool)
	}{
		{"its feed fails", "conversations", feedbustest.FeedError, "recall_projection_feed_failures_total",
			func(f *feedbustest.FailingFeed, _ *feedbustest.Poison, on bool) { f.Failing.Store(on) }},
		{"it keeps failing on one event", feedbustest.PoisonName, feedbustest.ApplyError, "recall_projection_apply_failures_total",
			func(_ *feedbustest.FailingFeed, p *feedbustest.Poison, on bool) { p.On.Store(on) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bf, p, feed, l, get := stallRig(t)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- feed.Run(ctx) }()
			tn, _ := domain.ParseTenant("acme/chat")
			send := func(n int) {
				for i := range n {
					cmd, _ := domain.NewSendCommand("alice", "bob", "chat", "txt", fmt.Sprint("m", i), "", "")
					if _, err := l.Send(ctx, tn, cmd); err != nil {
						t.Fatal(err)
					}
				}
			}
			send(3)
			eventually(t, func() string {
				if code, body := get("/readyz"); code != 200 {
					return fmt.Sprintf("readyz before the failure: %d %s", code, body)
				}
				return ""
			})

			tc.breakIt(bf, p, true)
			send(7)
			metric := func(name string) string { return fmt.Sprintf(`%s{projection="%s"}`, name, tc.projection) }
			eventually(t, func() string {
				code, body := get("/readyz")
				if code != http.StatusServiceUnavailable || !strings.Contains(body, `"ready":false`) ||
					!strings.Contains(body, "projection "+tc.projection+" is not applying") || !strings.Contains(body, tc.cause) {
					return fmt.Sprintf("readyz while %s is stalled: %d %s", tc.projection, code, body)
				}
				m := metricValues(get("/metrics"))
				if m[metric(tc.counter)] < 2 || m[metric("recall_projection_stalled")] != 1 {
					return fmt.Sprintf("metrics while stalled: %s=%v, stalled=%v", tc.counter, m[metric(tc.counter)], m[metric("recall_projection_stalled")])
				}
				return ""
			})

			tc.breakIt(bf, p, false)
			eventually(t, func() string {
				if code, body := get("/readyz"); code != 200 {
					return fmt.Sprintf("readyz once it heals: %d %s", code, body)
				}
				m := metricValues(get("/metrics"))
				if m[metric("recall_projection_stalled")] != 0 || m[metric("recall_projection_lag_events")] != 0 {
					return fmt.Sprintf("metrics once it heals: stalled=%v lag=%v", m[metric("recall_projection_stalled")], m[metric("recall_projection_lag_events")])
				}
				return ""
			})
			cancel()
			<-done
		})
	}
}

// stallRig is the API with its readiness and projection metrics over the
// projections of a fresh data directory and one more that fails on the
// fifth event when told (p), fed by a feed that fails after three reads
// when told (bf): what recalld wires, with faults to turn on. get asks the
// API.
func stallRig(t *testing.T) (*feedbustest.FailingFeed, *feedbustest.Poison, *feedbus.Feed, *ledger.Service, func(string) (int, string)) {
	dir := t.TempDir()
	store, rm, runners := openData(t, dir)
	p := &feedbustest.Poison{At: 5}
	pr, err := projections.NewRunner(p, rm)
	if err != nil {
		t.Fatal(err)
	}
	runners = append(runners, pr)
	reg, err := tenants.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bf := &feedbustest.FailingFeed{Store: store, After: 3}
	feed := feedbus.New(bf, runners, log, feedbus.Options{RetryInitial: time.Millisecond, RetryMax: 20 * time.Millisecond})
	metrics := httpapi.NewMetrics()
	registerProjectionMetrics(metrics, store, runners, feed)
	l := ledger.New(store, domain.SystemClock{})
	srv := httptest.NewServer(httpapi.New(l, reg, metrics, log, httpapi.Config{}, readiness(store, runners, feed), nil))
	t.Cleanup(srv.Close)
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	return bf, p, feed, l, get
}

// metricValues reads a Prometheus text exposition into series -> value.
func metricValues(_ int, text string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		var v float64
		if _, err := fmt.Sscan(line[i+1:], &v); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
