package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"

	"github.com/recallledger/recall/domain"
)

// EventByID implements domain.EventLookup.
func (s *Store) EventByID(id string) (domain.Event, bool, error) {
	v, closer, err := s.db.Get(idKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return domain.Event{}, false, nil
	}
	if err != nil {
		return domain.Event{}, false, fmt.Errorf("event %s: %w", id, err)
	}
	pos := binary.BigEndian.Uint64(v)
	closer.Close()
	if pos > s.Head() {
		return domain.Event{}, false, nil // applied, not yet durable
	}
	e, err := s.eventAt(pos)
	return e, err == nil, err
}

// ReadStream implements domain.EventStore.
func (s *Store) ReadStream(ctx context.Context, stream string) ([]domain.Event, error) {
	return s.readStreamFrom(ctx, stream, 0)
}

// readStreamFrom returns the stream's durable events from version on.
func (s *Store) readStreamFrom(ctx context.Context, stream string, version uint64) ([]domain.Event, error) {
	prefix := streamPrefix(stream)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: streamKey(stream, version), UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	defer it.Close()
	out := []domain.Event{}
	head := s.Head()
	for it.First(); it.Valid(); it.Next() {
		pos := binary.BigEndian.Uint64(it.Value())
		if pos > head {
			break // applied but not yet durable: not there until acknowledged
		}
		e, err := s.eventAt(pos)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		out = append(out, e)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	return out, ctx.Err()
}

// ReadAll implements domain.EventStore. It never returns events past Head.
func (s *Store) ReadAll(ctx context.Context, from uint64, tenant string, limit int) ([]domain.Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	from = max(from, 1)
	head := s.Head()
	if from > head {
		return nil, nil
	}
	out := make([]domain.Event, 0, min(limit, int(head-from+1), 1024))
	if tenant == "" {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: eventKey(from), UpperBound: eventKey(head + 1)})
		if err != nil {
			return nil, fmt.Errorf("read all: %w", err)
		}
		defer it.Close()
		for it.First(); it.Valid() && len(out) < limit; it.Next() {
			e, err := domain.DecodeEvent(it.Value())
			if err != nil {
				return nil, fmt.Errorf("read all: decode %x: %w", it.Key(), err)
			}
			out = append(out, e)
		}
		if err := it.Error(); err != nil {
			return nil, fmt.Errorf("read all: %w", err)
		}
		return out, ctx.Err()
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: tenantKey(tenant, from), UpperBound: tenantKey(tenant, head+1)})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", tenant, err)
	}
	defer it.Close()
	plen := len(tenantKey(tenant, 0)) - 8
	for it.First(); it.Valid() && len(out) < limit; it.Next() {
		e, err := s.eventAt(binary.BigEndian.Uint64(it.Key()[plen:]))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", tenant, err)
		}
		out = append(out, e)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("read %s: %w", tenant, err)
	}
	return out, ctx.Err()
}

func (s *Store) eventAt(pos uint64) (domain.Event, error) {
	v, closer, err := s.db.Get(eventKey(pos))
	if err != nil {
		return domain.Event{}, fmt.Errorf("event at %d: %w", pos, err)
	}
	defer closer.Close()
	e, err := domain.DecodeEvent(v)
	if err != nil {
		return domain.Event{}, fmt.Errorf("event at %d: %w", pos, err)
	}
	return e, nil
}

func (s *Store) lastPosition() (uint64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{'e'}, UpperBound: []byte{'f'}})
	if err != nil {
		return 0, fmt.Errorf("open event store: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	return binary.BigEndian.Uint64(it.Key()[1:]), nil
}
