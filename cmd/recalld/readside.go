package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recallledger/recall/adapters/httpapi"
	"github.com/recallledger/recall/adapters/retention"
	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
)

// readyLag is how far behind the log a projection may be and still count
// as caught up once it has reached the head it saw at start.
const readyLag = 10_000

// readiness is ready once every projection has reached the store's head as
// it was at start, and stays ready while none lags by more than readyLag.
func readiness(store domain.EventStore, runners []*projections.Runner) httpapi.Readiness {
	startHead := store.Head()
	return func(context.Context) error {
		head := store.Head()
		for _, r := range runners {
			pos := r.Position()
			if pos < startHead {
				return fmt.Errorf("projection %s catching up: at %d of %d", r.Name(), pos, startHead)
			}
			if head > pos && head-pos > readyLag {
				return fmt.Errorf("projection %s lags by %d events", r.Name(), head-pos)
			}
		}
		return nil
	}
}

// waitCaughtUp returns when every runner has applied the store's head, or
// ctx ends.
func waitCaughtUp(ctx context.Context, store domain.EventStore, runners []*projections.Runner) {
	head := store.Head()
	for {
		behind := false
		for _, r := range runners {
			behind = behind || r.Position() < head
		}
		if !behind {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func registerProjectionMetrics(m *httpapi.Metrics, store domain.EventStore, runners []*projections.Runner) {
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
		)
	}
}

// purgeAuditLoop applies every tenant's audit retention at start and then
// hourly: old audit entries and the events behind them go.
func purgeAuditLoop(ctx context.Context, rm projections.Store, store retention.Purger, reg *tenants.Registry, clock domain.Clock, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		ts, err := reg.Tenants()
		if err != nil {
			log.Warn("audit retention", slog.Any("err", err))
		}
		for _, tn := range ts {
			res, err := retention.Apply(ctx, rm, store, tn.String(), clock.Now())
			if err != nil {
				log.Warn("audit retention", slog.String("tenant", tn.String()), slog.Any("err", err))
			} else if res.Entries+res.Events > 0 {
				log.Info("audit retention", slog.String("tenant", tn.String()), slog.Int("entries", res.Entries),
					slog.Int("events", res.Events), slog.Uint64("up_to_position", res.UpTo))
			}
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
func followPolicies(ctx context.Context, store eventStore, from uint64, l *ledger.Service, log *slog.Logger) {
	marker := []byte(`"type":"` + domain.TypeTenantPolicySet + `"`)
	err := store.FollowRaw(ctx, from, func(raws [][]byte, _ uint64) error {
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
		return nil
	})
	if err != nil && ctx.Err() == nil {
		log.Error("following policy changes stopped", slog.Any("err", err))
	}
}
