package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/recallledger/recall/domain"
)

// maxAttempts bounds the optimistic retries of one command. Each retry
// follows a successful append by someone else, so running out means the
// stream is under extreme contention, not that a bug loops forever.
const maxAttempts = 64

// ErrContention is returned when a command lost the race maxAttempts times.
var ErrContention = errors.New("too much contention on the stream, try again")

// command is one command of the ledger, decided against the state of one
// aggregate — a message, or a tenant's policy — and recorded with
// optimistic concurrency. S is the state the command is decided against.
type command[S any] struct {
	tenant domain.Tenant
	// what names the command in errors ("recall m1").
	what string
	// load reads the aggregate's current state and the version of the
	// stream it was read at.
	load func(ctx context.Context) (state S, version int64, err error)
	// decide decides the command against that state at the server's time
	// of receipt: what to record, and where. It is called again, with
	// the newer state, after a concurrent change.
	decide func(state S, version int64, now time.Time) (change, error)
}

// change is what one decision records: payloads appended to stream
// expecting its version to be expected. No payloads records nothing.
type change struct {
	payloads []domain.Payload
	stream   string
	expected int64
	// id, when not empty, is the first event's id: a retried request
	// derives it, so the store's idempotency recognises the retry. The
	// others are random.
	id string
}

// appendTo records payloads on stream, expecting it at version.
func appendTo(stream string, version int64, payloads ...domain.Payload) change {
	return change{payloads: payloads, stream: stream, expected: version}
}

// recorded is what running a command came to.
type recorded[S any] struct {
	state   S               // the state the last decision was made against
	version int64           // the version of the stream it was read at
	stored  domain.Appended // what the store stored; empty when nothing was recorded
}

// run is the one command loop: load the aggregate, decide, append what was
// decided expecting the version that was loaded, and go round again on a
// concurrent change (a wrong version). The time of receipt is taken once:
// a retry is decided at the instant the command arrived. A decision's
// error ends the command; nothing is recorded.
func run[S any](ctx context.Context, s *Service, c command[S]) (recorded[S], error) {
	now := s.clock.Now()
	for range maxAttempts {
		state, version, err := c.load(ctx)
		if err != nil {
			return recorded[S]{}, err
		}
		ch, err := c.decide(state, version, now)
		if err != nil || len(ch.payloads) == 0 {
			return recorded[S]{state: state, version: version}, err
		}
		evs := make([]domain.Event, len(ch.payloads))
		for i, p := range ch.payloads {
			id := ch.id
			if i > 0 || id == "" {
				id = uuid.NewString()
			}
			evs[i] = domain.NewEvent(id, c.tenant, now, p)
		}
		stored, err := s.store.Append(ctx, ch.stream, ch.expected, evs)
		var wrong *domain.WrongVersionError
		if errors.As(err, &wrong) {
			continue
		}
		if err != nil {
			return recorded[S]{}, fmt.Errorf("%s: %w", c.what, err)
		}
		return recorded[S]{state: state, version: version, stored: stored}, nil
	}
	return recorded[S]{}, fmt.Errorf("%s: %w", c.what, ErrContention)
}

// message is the load of a message's state for a command.
func (s *Service) message(stream string) func(context.Context) (domain.Message, int64, error) {
	return func(ctx context.Context) (domain.Message, int64, error) {
		m, err := s.load(ctx, stream)
		return m, m.Version(), err
	}
}
