package esdbstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/recallledger/recall/domain"
)

const indexBatch = 512

// recorded is one event from the subscription with where it is in $all.
type recorded struct {
	event domain.Event
	pos   esdb.Position
}

// subscribe opens the catch-up subscription to $all after from (nil: from
// the start), filtered on the server to our streams.
func (s *Store) subscribe(ctx context.Context, from *esdb.Position) (*esdb.Subscription, error) {
	prefixes := categories
	if s.o.Namespace != "" {
		prefixes = []string{s.o.Namespace}
	}
	opts := esdb.SubscribeToAllOptions{
		From:   esdb.Start{},
		Filter: &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: prefixes},
	}
	if from != nil {
		opts.From = *from // exclusive: resumes after it
	}
	return s.client.SubscribeToAll(ctx, opts)
}

// index copies the subscription's events into the local store in $all's
// order, a batch per fsync, and resubscribes when the subscription drops.
// A failure it cannot retry (the index disagrees with the server) stops it
// and every later Append and ReadStream returns it.
func (s *Store) index(ctx context.Context, sub *esdb.Subscription, from *esdb.Position) {
	defer close(s.done)
	feed := make(chan recorded, 4*indexBatch)
	recvDone := make(chan error, 1)
	go func() { recvDone <- s.receive(ctx, sub, from, feed) }()
	for {
		var batch []recorded
		select {
		case r := <-feed:
			batch = append(batch, r)
		case err := <-recvDone:
			s.stop(err)
			return
		}
	drain:
		for len(batch) < indexBatch {
			select {
			case r := <-feed:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		if err := s.copy(ctx, batch); err != nil {
			s.stop(err)
			<-recvDone
			return
		}
	}
}

func (s *Store) stop(err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	err = fmt.Errorf("eventstoredb index stopped: %w", err)
	s.indexErr.CompareAndSwap(nil, &err)
	s.log.Error("eventstoredb index", slog.Any("err", err))
}

// receive passes the subscription's events on in order and resubscribes
// after the last one passed on when the subscription drops, backing off
// while the server is away.
func (s *Store) receive(ctx context.Context, sub *esdb.Subscription, from *esdb.Position, feed chan<- recorded) error {
	defer func() { sub.Close() }()
	backoff := 100 * time.Millisecond
	for {
		ev := sub.Recv()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case ev.EventAppeared != nil:
			rec := ev.EventAppeared.OriginalEvent()
			if strings.HasPrefix(rec.EventType, "$") {
				continue // stream metadata ($metadata) and other system events
			}
			e, err := fromRecorded(s.o.Namespace, rec)
			if err != nil {
				return err
			}
			select {
			case feed <- recorded{event: e, pos: rec.Position}:
			case <-ctx.Done():
				return ctx.Err()
			}
			p := rec.Position
			from, backoff = &p, 100*time.Millisecond
		case ev.SubscriptionDropped != nil:
			s.log.Warn("eventstoredb subscription dropped; resubscribing", slog.Any("err", ev.SubscriptionDropped.Error))
			sub.Close()
			for {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 5*time.Second)
				var err error
				if sub, err = s.subscribe(ctx, from); err == nil {
					break
				}
				s.log.Warn("eventstoredb resubscribe", slog.Any("err", err))
			}
		}
	}
}

// copy appends a batch to the index, each event at its server revision
// (expected = revision-1), and then records the batch's last $all position
// as the place to resume from. A crash between the two redelivers events
// the index holds, which it answers as idempotent retries.
func (s *Store) copy(ctx context.Context, batch []recorded) error {
	writes := make([]domain.StreamWrite, 0, len(batch))
	for _, r := range batch {
		e := r.event
		expected := e.StreamVersion - 1
		if n := len(writes); n > 0 && writes[n-1].Stream == e.Stream {
			writes[n-1].Events = append(writes[n-1].Events, e)
			continue
		}
		writes = append(writes, domain.StreamWrite{Stream: e.Stream, Expected: expected, Events: []domain.Event{e}})
	}
	if _, err := s.local.AppendInOrder(ctx, writes); err != nil {
		// again one by one: what was stored answers as a retry, an event
		// id another stream already has (a client reusing ids, which the
		// server does not refuse) is skipped on every node alike, and
		// anything else means the index disagrees with the server
		for _, w := range writes {
			_, err := s.local.Append(ctx, w.Stream, w.Expected, w.Events)
			if errors.Is(err, domain.ErrEventIDReused) {
				s.log.Error("eventstoredb event skipped: its id is already on another stream", slog.String("stream", w.Stream), slog.Any("err", err))
				continue
			}
			if err != nil {
				return fmt.Errorf("copy to the index (remove %s to rebuild it from EventStoreDB): %w", s.o.Dir, err)
			}
		}
	}
	return s.saveCheckpoint(batch[len(batch)-1].pos)
}

func (s *Store) checkpointPath() string { return filepath.Join(s.o.Dir, "esdb-position") }

// loadCheckpoint is the $all position of the last event indexed, nil when
// nothing was.
func (s *Store) loadCheckpoint() (*esdb.Position, error) {
	b, err := os.ReadFile(s.checkpointPath())
	if errors.Is(err, os.ErrNotExist) {
		if s.local.Head() != 0 {
			return nil, fmt.Errorf("index %s holds events but no position: remove it to rebuild it from EventStoreDB", s.o.Dir)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("index position: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return nil, fmt.Errorf("index position %s: malformed %q", s.checkpointPath(), b)
	}
	c, err1 := strconv.ParseUint(f[0], 10, 64)
	p, err2 := strconv.ParseUint(f[1], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("index position %s: %w", s.checkpointPath(), err)
	}
	return &esdb.Position{Commit: c, Prepare: p}, nil
}

// saveCheckpoint replaces the position file atomically and durably.
func (s *Store) saveCheckpoint(p esdb.Position) error {
	tmp := s.checkpointPath() + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("index position: %w", err)
	}
	_, err = f.WriteString(formatPosition(p) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.checkpointPath())
	}
	if err != nil {
		return fmt.Errorf("index position: %w", err)
	}
	return nil
}
