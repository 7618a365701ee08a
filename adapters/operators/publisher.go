package operators

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/recallledger/recall/domain"
)

// Publisher copies the registry's operator events into the event store,
// in the order they were recorded, each to its tenant's operator stream:
// the log is where the audit (and an auditor) reads who may act on a
// tenant. The registry holds a checkpoint of what is published, so after
// a crash the publisher starts from it; an event published again (the
// crash came between the append and the checkpoint) is the store's
// idempotent retry, by event id.
type Publisher struct {
	reg   *Registry
	store domain.EventStore
	log   *slog.Logger
	every time.Duration
}

// NewPublisher returns a publisher of reg's events into store. It looks
// for events recorded by other processes (recallctl) every Wait, and at
// once for those recorded through reg.
func NewPublisher(reg *Registry, store domain.EventStore, log *slog.Logger) *Publisher {
	return &Publisher{reg: reg, store: store, log: log, every: Wait}
}

// Run publishes until ctx ends. A failed append is logged and tried
// again at the next look; nothing is skipped.
func (p *Publisher) Run(ctx context.Context) error {
	t := time.NewTicker(p.every)
	defer t.Stop()
	failing := false
	for {
		n, err := p.Publish(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				p.log.Error("operator events: publishing to the event store failed; retrying", slog.Any("err", err))
			}
			failing = true
		case err == nil && failing:
			p.log.Info("operator events: publishing again", slog.Int("events", n))
			failing = false
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-p.reg.Changed():
		}
	}
}

// Publish appends every unpublished event, moves the checkpoint past
// them, and compacts the journal when it has grown. It returns how many
// events it appended.
func (p *Publisher) Publish(ctx context.Context) (int, error) {
	evs, last, err := p.reg.Unpublished()
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	for _, e := range evs {
		stream := e.Stream
		e.Stream, e.StreamVersion, e.Position = "", 0, 0
		if _, err := p.store.Append(ctx, stream, domain.AnyVersion, []domain.Event{e}); err != nil {
			return 0, fmt.Errorf("publish %s %s: %w", e.Type(), e.ID, err)
		}
	}
	if err := p.reg.MarkPublished(last); err != nil {
		return len(evs), err
	}
	if _, err := p.reg.Compact(); err != nil {
		return len(evs), err
	}
	return len(evs), nil
}
