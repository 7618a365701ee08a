// Package feedbustest is for tests only: the faults a projection feed must
// survive — a store whose feed fails on demand, and a projection that
// fails on one event.
package feedbustest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
)

// FeedError is the cause a FailingFeed reports.
const FeedError = "injected: read events: input/output error"

// FailingFeed is an embedded store whose raw feed fails past position
// After while Failing is set, as a read error (EIO, a corrupt block)
// would. It remembers where each subscription started.
type FailingFeed struct {
	*embedded.Store
	After   uint64
	Failing atomic.Bool

	mu    sync.Mutex
	froms []uint64
}

// FollowRaw fails a chunk that goes past After while Failing is set.
func (f *FailingFeed) FollowRaw(ctx context.Context, from uint64, handle func([][]byte, uint64) error) error {
	f.mu.Lock()
	f.froms = append(f.froms, from)
	f.mu.Unlock()
	return f.Store.FollowRaw(ctx, from, func(raws [][]byte, last uint64) error {
		if f.Failing.Load() && last > f.After {
			return errors.New(FeedError)
		}
		return handle(raws, last)
	})
}

// Starts lists the positions the subscriptions started from, in order.
func (f *FailingFeed) Starts() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]uint64(nil), f.froms...)
}

// ApplyError is the cause a Poison projection reports.
const ApplyError = "injected: cannot apply this event"

// PoisonName is a Poison projection's name.
const PoisonName = "poisoned"

// Poison is a projection that fails on the event at position At while On
// is set: a handler that keeps failing on one event.
type Poison struct {
	At uint64
	On atomic.Bool
}

var _ projections.Projection = (*Poison)(nil)

func (*Poison) Name() string { return PoisonName }

// Apply records the event, or fails on the poisoned one.
func (p *Poison) Apply(tx projections.Tx, e domain.Event) error {
	if p.On.Load() && e.Position == p.At {
		return errors.New(ApplyError)
	}
	return tx.Set([]byte("last"), []byte(e.ID))
}
