package domain

import (
	"context"
	"strings"
	"time"
)

// Expected versions for Append besides an exact stream version (0-based,
// the version of the stream's last event).
const (
	// AnyVersion appends whatever the stream holds.
	AnyVersion int64 = -2
	// NoStream appends only if the stream does not exist yet.
	NoStream int64 = -1
)

// EventStore is the durable log the ledger needs. Every adapter passes the
// contract suite in adapters/eventstore/eventstoretest.
//
// Positions are global, start at 1 and strictly increase in append order.
// Stream versions start at 0.
type EventStore interface {
	// Append adds events to stream atomically if the stream's version is
	// expected, and returns them with stream, version and position set. It
	// returns only once they are durable. A wrong version is a
	// *WrongVersionError. Appending events whose ids are all already stored
	// in this stream is an idempotent retry: nothing is written, the
	// version is not checked, and the stored events come back with
	// AlreadyStored set.
	Append(ctx context.Context, stream string, expected int64, events []Event) (Appended, error)
	// ReadStream returns the stream's events in version order; an empty
	// slice for a stream that does not exist.
	ReadStream(ctx context.Context, stream string) ([]Event, error)
	// ReadAll returns up to limit events with position >= from, in position
	// order, only tenant's when tenant is not empty.
	ReadAll(ctx context.Context, from uint64, tenant string, limit int) ([]Event, error)
	// Follow calls handle with every event at position >= from, in order:
	// first those stored, then each new one as it is appended, without
	// polling. It returns when ctx ends (with ctx's error) or handle fails.
	Follow(ctx context.Context, from uint64, tenant string, handle func(Event) error) error
	// Head is the position of the last durable event, 0 when empty.
	Head() uint64
}

// Capabilities beyond EventStore. Each is declared once, here beside the
// port (as io.WriterTo is beside io.Writer): the component that uses one
// asserts it, and the contract suite (adapters/eventstore/eventstoretest)
// checks every store adapter for each, unless the adapter's test says it
// lacks it.

// RawFollower is a store that can hand over its events as their stored
// JSON (schema v1 envelopes) without decoding them. FollowRaw is Follow
// over the whole log a chunk at a time: consecutive events as they are
// read, last being the last one's position. Feeds that pass events on as
// JSON save a decode and an encode per event, and can apply a chunk in
// one transaction.
type RawFollower interface {
	FollowRaw(ctx context.Context, from uint64, handle func(raws [][]byte, last uint64) error) error
}

// TenantPurger is a store that can remove a tenant's old history, for
// audit retention. PurgeTenant removes the tenant's events at or before
// upTo except its policy history (its tenant- stream, from which the
// policy in force is read), its legal holds (hold-: a hold outlives every
// retention until it is released) and its erasure records (erasure-…:
// what was erased, and why, is kept), leaves other tenants, later
// positions and stream versions alone, and returns how many events it
// removed; purging again up to the same position removes nothing.
type TenantPurger interface {
	PurgeTenant(ctx context.Context, tenant string, upTo uint64) (int, error)
}

// IsKeptStream reports whether audit retention keeps a stream of tenant:
// its policy history, its legal holds and its erasure records.
func IsKeptStream(tenant, stream string) bool {
	return stream == "tenant-"+tenant || stream == "hold-"+tenant || strings.HasPrefix(stream, "erasure-"+tenant+".")
}

// StreamWrite is one stream's part of an AppendInOrder: what one Append
// would take.
type StreamWrite struct {
	Stream   string
	Expected int64
	Events   []Event
}

// OrderedAppender is a store that takes several streams' writes at once.
// AppendInOrder appends them one after another, each as Append would, and
// returns each write's stored events: positions follow the order of the
// writes (other callers' appends may fall between them). It is how a
// replica copies another log in that log's order without waiting for the
// disk after each write. The first failure is returned; writes after it
// may have been stored.
type OrderedAppender interface {
	AppendInOrder(ctx context.Context, writes []StreamWrite) ([][]Event, error)
}

// EventLookup is a store that finds a durable event by its id.
type EventLookup interface {
	// EventByID returns the durable event with id, and whether there is one.
	EventByID(id string) (Event, bool, error)
}

// ChangeWatcher is a store that says when new events are durable.
type ChangeWatcher interface {
	// Changed is closed when the next events are durable; take it before
	// looking, so no change is missed.
	Changed() <-chan struct{}
}

// StreamSnapshots is a store that keeps, beside a stream, a snapshot of
// the state its events fold into (Snapshot), so that a command loads a
// long stream's state from the snapshot and the few events after it
// instead of from every event. A snapshot is a rebuildable cache, never
// the truth: it names the last event it covers, and the store hands it
// out only while the stream still holds that event at that version
// (after a purge it does not); losing one costs a replay.
type StreamSnapshots interface {
	// ReadStreamSnapshot returns the stream's snapshot, when it has one
	// that matches the stream, and the stream's durable events after it
	// in version order; without one, the snapshot's Version is NoStream
	// and the events are the whole stream, as ReadStream returns them.
	ReadStreamSnapshot(ctx context.Context, stream string) (Snapshot, []Event, error)
	// SaveSnapshot keeps snap for stream in place of the one it had. It
	// need not be durable, and may be dropped (a store that is closing,
	// or out of disk space): the stream rebuilds it.
	SaveSnapshot(ctx context.Context, stream string, snap Snapshot) error
}

// Appended is what an append stored.
type Appended struct {
	// Events are the events as stored, in order: stream, version and
	// position set.
	Events []Event
	// AlreadyStored reports an idempotent retry: every event id was in the
	// stream before this call, nothing was written, and Events are the
	// originals (their time and payload may differ from the ones given).
	AlreadyStored bool
}

// Clock tells the server's time. Recall windows are decided by it, never by
// a client's clock; tests inject a clock they advance.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }
