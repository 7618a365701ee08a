package feedbus

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
)

// hub is the one decoded feed of a Subscriber: it follows the store once,
// decodes each chunk it reads once, and keeps the last few chunks for
// every subscription to take from at its own position. A subscription
// behind what the hub keeps (a projection rebuilt, or one that stalled)
// reads the store itself until it catches up; so does one whose handler
// failed, which detaches while it waits to be retried: a stalled
// projection never holds the others up. Subscriptions that are attached
// hold the hub back instead of falling behind it: it reads a chunk ahead
// of the slowest of them at most keep chunks, so no attached subscription
// misses a chunk it would have to decode again.
type hub struct {
	store domain.EventStore
	keep  int
	bo    *backoff.ExponentialBackOff

	mu       sync.Mutex
	batches  []chunk            // the last chunks read, in order
	next     uint64             // the position after the last chunk read
	failure  *hubFailure        // the last failed read; nil once reading succeeds again
	changed  chan struct{}      // closed and replaced when any of the above or the cursors change
	cursors  map[*cursor]uint64 // attached subscriptions: the position each needs next
	started  bool
	stopping context.CancelFunc
	done     chan struct{}
}

// chunk is one read of the hub: consecutive events, decoded.
type chunk struct {
	projections.Batch
	last uint64 // the last event's position
}

// hubFailure is a failed read of the store's feed; gen counts them, so a
// subscription tells each one once.
type hubFailure struct {
	err     error
	retryIn time.Duration
	gen     uint64
}

// cursor is one subscription's place in the hub.
type cursor struct {
	seen uint64 // the last failure generation it was told
}

// newHub returns a hub that starts reading at start; 0 leaves it to the
// first startAt.
func newHub(store domain.EventStore, start uint64, keep int, bo *backoff.ExponentialBackOff) *hub {
	return &hub{store: store, keep: keep, bo: bo, next: start, changed: make(chan struct{}), cursors: map[*cursor]uint64{}, done: make(chan struct{})}
}

// startAt has a hub that has no start yet start at pos.
func (h *hub) startAt(pos uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.started && h.next == 0 {
		h.next = pos
	}
}

// wake tells everyone waiting that something changed; h.mu is held.
func (h *hub) wake() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// run follows the store from h.next until ctx ends: a failed read is
// recorded for the subscriptions to tell and read again, from where it
// stopped, after the backoff.
func (h *hub) run(ctx context.Context) {
	defer close(h.done)
	var gen uint64
	for {
		err := h.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := h.bo.NextBackOff()
		gen++
		h.mu.Lock()
		h.failure = &hubFailure{err: err, retryIn: wait, gen: gen}
		h.wake()
		h.mu.Unlock()
		if !sleep(ctx, wait) {
			return
		}
	}
}

// start runs the hub, once, until stop.
func (h *hub) start() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		return
	}
	h.started, h.next = true, max(h.next, 1)
	ctx, cancel := context.WithCancel(context.Background())
	h.stopping = cancel
	go h.run(ctx)
}

// stop ends the hub and waits for it.
func (h *hub) stop() {
	h.mu.Lock()
	started, cancel := h.started, h.stopping
	h.mu.Unlock()
	if started {
		cancel()
		<-h.done
	}
}

func (h *hub) follow(ctx context.Context) error {
	h.mu.Lock()
	from := h.next
	h.mu.Unlock()
	// a store that hands over its stored JSON gives the batch those bytes
	if rf, ok := h.store.(domain.RawFollower); ok {
		return rf.FollowRaw(ctx, from, func(raws [][]byte, last uint64) error {
			evs := make([]domain.Event, len(raws))
			for i, raw := range raws {
				var err error
				if evs[i], err = domain.DecodeEvent(raw); err != nil {
					return fmt.Errorf("feed at %d: %w", from, err)
				}
			}
			from = last + 1
			return h.add(ctx, chunk{Batch: projections.Batch{Events: evs, Raw: raws}, last: last})
		})
	}
	return h.store.Follow(ctx, from, "", func(e domain.Event) error {
		return h.add(ctx, chunk{Batch: projections.Batch{Events: []domain.Event{e}}, last: e.Position})
	})
}

// add keeps c for the subscriptions, once there is room: the oldest chunk
// goes when no attached subscription still needs it.
func (h *hub) add(ctx context.Context, c chunk) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(h.batches) >= h.keep && h.needed(h.batches[0]) {
		ch := h.changed
		h.mu.Unlock()
		select {
		case <-ctx.Done():
			h.mu.Lock()
			return ctx.Err()
		case <-ch:
		}
		h.mu.Lock()
	}
	if len(h.batches) >= h.keep {
		h.batches[0] = chunk{}
		h.batches = h.batches[1:]
	}
	h.batches = append(h.batches, c)
	h.next, h.failure = c.last+1, nil
	h.bo.Reset()
	h.wake()
	return nil
}

// needed reports whether an attached subscription has yet to take c.
func (h *hub) needed(c chunk) bool {
	for _, pos := range h.cursors {
		if pos <= c.last {
			return true
		}
	}
	return false
}

// take returns the events from position pos on that the hub holds,
// waiting for them when pos is past what it read. ok is false when pos is
// before what the hub keeps: the subscription reads the store itself.
// failed is a failure of the hub's reading the subscription was not told
// yet: it tells it, and takes again.
func (h *hub) take(ctx context.Context, c *cursor, pos uint64) (b projections.Batch, last uint64, ok bool, failed *hubFailure) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		if first := h.first(); pos < first {
			h.detach(c)
			return projections.Batch{}, 0, false, nil
		}
		if i := sort.Search(len(h.batches), func(i int) bool { return h.batches[i].last >= pos }); i < len(h.batches) {
			h.attach(c, pos)
			return from(h.batches[i].Batch, pos), h.batches[i].last, true, nil
		}
		h.attach(c, pos)
		if f := h.failure; f != nil && f.gen > c.seen {
			c.seen = f.gen
			return projections.Batch{}, 0, true, f
		}
		ch := h.changed
		h.mu.Unlock()
		select {
		case <-ctx.Done():
			h.mu.Lock()
			h.detach(c)
			return projections.Batch{}, 0, true, &hubFailure{err: ctx.Err()}
		case <-ch:
		}
		h.mu.Lock()
	}
}

// first is the first position the hub holds events from; h.mu is held.
func (h *hub) first() uint64 {
	if len(h.batches) == 0 {
		return h.next
	}
	return h.batches[0].Events[0].Position
}

func (h *hub) attach(c *cursor, pos uint64) {
	if old, ok := h.cursors[c]; !ok || old != pos {
		h.cursors[c] = pos
		h.wake()
	}
}

func (h *hub) detach(c *cursor) {
	if _, ok := h.cursors[c]; ok {
		delete(h.cursors, c)
		h.wake()
	}
}

// release detaches c: its subscription waits for a retry, or ended.
func (h *hub) release(c *cursor) {
	h.mu.Lock()
	h.detach(c)
	h.mu.Unlock()
}

// from is the part of b from position pos on.
func from(b projections.Batch, pos uint64) projections.Batch {
	i := sort.Search(len(b.Events), func(i int) bool { return b.Events[i].Position >= pos })
	out := projections.Batch{Events: b.Events[i:]}
	if b.Raw != nil {
		out.Raw = b.Raw[i:]
	}
	return out
}
