package projections

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/recallledger/recall/domain"
)

// Projection folds events into a read model.
type Projection interface {
	// Name is the projection's stable name: its namespace and the name
	// `recallctl projections rebuild NAME` takes.
	Name() string
	// Apply folds one event; it must be deterministic in the event alone
	// and the state it reads through tx.
	Apply(tx Tx, e domain.Event) error
}

// Keeper is a projection with state that a rebuild must keep because the
// log no longer holds what produced it (the audit chain's anchor after a
// retention purge). Reset keeps every key under these prefixes.
type Keeper interface {
	KeepOnReset() [][]byte
}

// checkpointKey holds the last position applied, inside the projection's
// namespace, so it commits with the updates.
var checkpointKey = []byte("\x00checkpoint")

// Runner applies events to one projection exactly once.
type Runner struct {
	p     Projection
	store Store

	position atomic.Uint64
	mu       sync.Mutex
	watchers []func(domain.Event)
}

// NewRunner loads the projection's checkpoint.
func NewRunner(p Projection, store Store) (*Runner, error) {
	r := &Runner{p: p, store: store}
	err := store.View(p.Name(), func(tx Tx) error {
		v, err := tx.Get(checkpointKey)
		if err != nil || v == nil {
			return err
		}
		r.position.Store(binary.BigEndian.Uint64(v))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("projection %s: checkpoint: %w", p.Name(), err)
	}
	return r, nil
}

// Name is the projection's name.
func (r *Runner) Name() string { return r.p.Name() }

// Projection is the projection the runner feeds.
func (r *Runner) Projection() Projection { return r.p }

// Position is the last position applied and committed.
func (r *Runner) Position() uint64 { return r.position.Load() }

// Watch registers fn to be called after each commit, with the last event
// it covered (for live pushes); fn must not block.
func (r *Runner) Watch(fn func(domain.Event)) {
	r.mu.Lock()
	r.watchers = append(r.watchers, fn)
	r.mu.Unlock()
}

// Batch is consecutive events of the log as a feed hands them to every
// projection: decoded once, in position order. Raw, when the feed has it,
// holds each event's stored JSON (schema v1), Raw[i] for Events[i]: a
// projection that passes events on as JSON takes those bytes as they are
// (StoredApplier) instead of encoding the event again.
type Batch struct {
	Events []domain.Event
	Raw    [][]byte
}

// StoredApplier is a projection that can use an event's stored JSON as it
// is; the runner calls ApplyStored instead of Apply when the batch has it.
type StoredApplier interface {
	ApplyStored(tx Tx, e domain.Event, stored []byte) error
}

// Handle applies e unless its position is at or before the checkpoint: a
// redelivery after a crash or a retry is a no-op. Handle and HandleBatch
// are not safe for concurrent use; one feed drives one runner, in
// position order.
func (r *Runner) Handle(e domain.Event) error { return r.HandleBatch(Batch{Events: []domain.Event{e}}) }

// HandleBatch applies a batch in one transaction with the checkpoint, the
// events at or before the checkpoint skipped; nothing is written when
// every one is. A busy log is applied a batch at a time this way, and a
// rebuild too.
func (r *Runner) HandleBatch(b Batch) error {
	from := r.position.Load()
	first := sort.Search(len(b.Events), func(i int) bool { return b.Events[i].Position > from })
	if first == len(b.Events) {
		return nil
	}
	stored, _ := r.p.(StoredApplier)
	last := from
	err := r.store.Update(r.p.Name(), func(tx Tx) error {
		for i := first; i < len(b.Events); i++ {
			e := b.Events[i]
			var err error
			if stored != nil && b.Raw != nil {
				err = stored.ApplyStored(tx, e, b.Raw[i])
			} else {
				err = r.p.Apply(tx, e)
			}
			if err != nil {
				return fmt.Errorf("at %d: %w", e.Position, err)
			}
			last = e.Position
		}
		return tx.Set(checkpointKey, binary.BigEndian.AppendUint64(nil, last))
	})
	if err != nil {
		return fmt.Errorf("projection %s: %w", r.p.Name(), err)
	}
	r.position.Store(last)
	r.notify(b.Events[len(b.Events)-1])
	return nil
}

// notify tells the watchers that everything up to e is committed.
func (r *Runner) notify(e domain.Event) {
	r.mu.Lock()
	ws := r.watchers
	r.mu.Unlock()
	for _, w := range ws {
		w(e)
	}
}

// CatchUp applies every stored event after the checkpoint, in batches of
// chunk, until the log's end: a rebuild after Reset, or a catch-up without
// a feed. progress, if not nil, is told the last position applied. It
// returns how many events it read.
func (r *Runner) CatchUp(ctx context.Context, log domain.EventStore, chunk int, progress func(position uint64)) (int, error) {
	n := 0
	for pos := r.Position() + 1; ; {
		evs, err := log.ReadAll(ctx, pos, "", chunk)
		if err != nil || len(evs) == 0 {
			return n, err
		}
		if err := r.HandleBatch(Batch{Events: evs}); err != nil {
			return n, err
		}
		n += len(evs)
		pos = evs[len(evs)-1].Position + 1
		if progress != nil {
			progress(pos - 1)
		}
	}
}

// Reset drops the read model and its checkpoint (all but what a Keeper
// keeps): the next Handle starts from position 0 again.
func (r *Runner) Reset() error {
	var keep [][]byte
	if k, ok := r.p.(Keeper); ok {
		keep = k.KeepOnReset()
	}
	if err := r.store.Drop(r.p.Name(), keep...); err != nil {
		return fmt.Errorf("projection %s: drop: %w", r.p.Name(), err)
	}
	r.position.Store(0)
	return nil
}
