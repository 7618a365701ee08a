package domain

import (
	"context"
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
