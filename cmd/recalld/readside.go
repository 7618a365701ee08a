package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/recallledger/recall/adapters/feedbus"
	"github.com/recallledger/recall/adapters/httpapi"
	"github.com/recallledger/recall/adapters/retention"
	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/cmd/internal/contentkeys"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
)

// readyLag is how far behind the log a projection may be and still count
// as caught up once it has reached the head it saw at start.
const readyLag = 10_000

// readiness is ready once every projection has reached the store's head as
// it was at start, and stays ready while none lags by more than readyLag
// and none is stalled: a projection whose feed fails, or that keeps
// failing on an event, is named with the cause until it applies again.
func readiness(store domain.EventStore, runners []*projections.Runner, feed *feedbus.Feed) httpapi.Readiness {
	startHead := store.Head()
	return func(context.Context) error {
		head := store.Head()
		var problems []string
		for _, r := range runners {
			pos := r.Position()
			switch st, stalled := feed.Stalled(r.Name()); {
			case stalled && pos < head:
				problems = append(problems, st.Error())
			case pos < startHead:
				problems = append(problems, fmt.Sprintf("projection %s catching up: at %d of %d", r.Name(), pos, startHead))
			case head > pos && head-pos > readyLag:
				problems = append(problems, fmt.Sprintf("projection %s lags by %d events", r.Name(), head-pos))
			}
		}
		if len(problems) > 0 {
			return errors.New(strings.Join(problems, "; "))
		}
		return nil
	}
}

// waitCaughtUp returns when every runner has applied the log up to head
// (true), or when ctx ends (false). With a feed, a stalled projection is
// not waited for, and logged once: it would not catch up before the
// timeout, and it resumes from its checkpoint at the next start.
func waitCaughtUp(ctx context.Context, head uint64, runners []*projections.Runner, feed *feedbus.Feed, log *slog.Logger) bool {
	warned := map[string]bool{}
	for {
		behind := false
		for _, r := range runners {
			if r.Position() >= head {
				continue
			}
			if st, stalled := stalledIn(feed, r.Name()); stalled {
				if !warned[r.Name()] {
					warned[r.Name()] = true
					log.Warn("shutting down with a stalled projection", slog.String("projection", r.Name()), slog.Any("stall", st))
				}
				continue
			}
			behind = true
		}
		if !behind {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func stalledIn(feed *feedbus.Feed, name string) (feedbus.Stall, bool) {
	if feed == nil {
		return feedbus.Stall{}, false
	}
	return feed.Stalled(name)
}

func registerProjectionMetrics(m *httpapi.Metrics, store domain.EventStore, runners []*projections.Runner, feed *feedbus.Feed) {
	m.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "recall_store_head_position", Help: "Position of the last durable event.",
	}, func() float64 { return float64(store.Head()) }))
	for _, r := range runners {
		r := r
		labels := prometheus.Labels{"projection": r.Name()}
		m.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "recall_projection_position", Help: "Last position a projection applied.", ConstLabels: labels},
				func() float64 { return float64(r.Position()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "recall_projection_lag_events", Help: "Events a projection is behind the log.", ConstLabels: labels},
				func() float64 { return float64(store.Head() - min(store.Head(), r.Position())) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "recall_projection_feed_failures_total",
				Help: "Times reading the store's feed failed for a projection; it resumes from its checkpoint after a backoff.", ConstLabels: labels},
				func() float64 { return float64(feed.FeedFailures(r.Name())) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "recall_projection_apply_failures_total",
				Help: "Times a projection failed on events after its retries; they are sent again after a backoff.", ConstLabels: labels},
				func() float64 { return float64(feed.ApplyFailures(r.Name())) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "recall_projection_stalled",
				Help: "1 while a projection is not applying events (its feed or its handler keeps failing), else 0.", ConstLabels: labels},
				func() float64 {
					if _, stalled := feed.Stalled(r.Name()); stalled {
						return 1
					}
					return 0
				}),
		)
	}
}

// purgeAuditLoop applies every tenant's audit retention at start and then
// hourly: old audit entries, their content keys and the events behind
// them go, but for what a legal hold keeps (holds). Then the key store is
// compacted if any key was destroyed since the last pass (by retention,
// recalls, expiries or erasures), so destroyed keys' bytes leave its files
// within the hour.
func purgeAuditLoop(ctx context.Context, rm projections.Store, store domain.TenantPurger, keys *contentkeys.Keys, holds domain.HoldChecker, reg *tenants.Registry, clock domain.Clock, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		ts, err := reg.Tenants()
		if err != nil {
			log.Warn("audit retention", slog.Any("err", err))
		}
		for _, tn := range ts {
			res, err := retention.Apply(ctx, rm, store, keys.Keyring, holds, tn.String(), clock.Now())
			if err != nil {
				log.Warn("audit retention", slog.String("tenant", tn.String()), slog.Any("err", err))
			} else if res.Entries+res.Events > 0 || len(res.HeldBy) > 0 {
				log.Info("audit retention", slog.String("tenant", tn.String()), slog.Int("entries", res.Entries),
					slog.Int("events", res.Events), slog.Uint64("up_to_position", res.UpTo),
					slog.Int("content_shredded", res.Shredded), slog.Int("content_held", res.Held), slog.Any("held_by", res.HeldBy))
			}
		}
		if compacted, err := keys.Store.CompactIfDestroyed(); err != nil {
			log.Warn("key store compaction", slog.Any("err", err))
		} else if compacted {
			log.Info("key store compacted: destroyed keys' bytes are off the disk's live files")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// followPolicies keeps this node's policy cache current with the changes
// any node records, so every node decides by the newest policy once its
// index has it. The caller takes from (the head) before the node serves,
// so no change lands between a policy the cache loaded and the follower.
// A failed read of the log is logged at error and, after a backoff, the
// follower resumes after the last event it saw.
func followPolicies(ctx context.Context, store domain.RawFollower, from uint64, l *ledger.Service, log *slog.Logger) {
	marker := []byte(`"type":"` + domain.TypeTenantPolicySet + `"`)
	bo := &backoff.ExponentialBackOff{InitialInterval: 100 * time.Millisecond, MaxInterval: 30 * time.Second, Multiplier: 2, RandomizationFactor: 0.2}
	for {
		err := store.FollowRaw(ctx, from, func(raws [][]byte, last uint64) error {
			for _, raw := range raws {
				if !bytes.Contains(raw, marker) {
					continue
				}
				var e domain.Event
				if err := json.Unmarshal(raw, &e); err != nil {
					return fmt.Errorf("policy event: %w", err)
				}
				if err := l.ObservePolicy(e); err != nil {
					return err
				}
			}
			from = last + 1
			bo.Reset()
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		wait := bo.NextBackOff()
		log.Error("following policy changes failed; resuming after the last one seen", slog.Uint64("from_position", from),
			slog.Duration("retry_in", wait), slog.Any("err", err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
