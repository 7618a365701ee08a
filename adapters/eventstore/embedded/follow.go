package embedded

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble"

	"github.com/recallledger/recall/domain"
)

// Changed implements domain.ChangeWatcher: it is closed when the next
// group of events is durable.
func (s *Store) Changed() <-chan struct{} { return s.waitCh() }

func (s *Store) wake() {
	s.notifyMu.Lock()
	close(s.notify)
	s.notify = make(chan struct{})
	s.notifyMu.Unlock()
}

func (s *Store) waitCh() chan struct{} {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	return s.notify
}

// Follow implements domain.EventStore: it reads what is stored in chunks,
// then sleeps on the commit notification until new events arrive.
func (s *Store) Follow(ctx context.Context, from uint64, tenant string, handle func(domain.Event) error) error {
	from = max(from, 1)
	for {
		wait := s.waitCh() // taken before reading, so no commit is missed
		// the head as it was before the read: every event up to it is in
		// what ReadAll sees, so skipping past it below never skips one of
		// the tenant's (a head read after the read could be a commit the
		// read did not see)
		head := s.Head()
		evs, err := s.ReadAll(ctx, from, tenant, followChunk)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := handle(e); err != nil {
				return err
			}
		}
		if len(evs) > 0 {
			from = evs[len(evs)-1].Position + 1
			continue
		}
		if tenant != "" && head >= from {
			// only other tenants' events up to head: skip past them
			from = head + 1
		}
		if err := s.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// FollowRaw implements domain.RawFollower.
func (s *Store) FollowRaw(ctx context.Context, from uint64, handle func(raws [][]byte, last uint64) error) error {
	from = max(from, 1)
	for {
		wait := s.waitCh() // taken before reading, so no commit is missed
		head := s.Head()
		var raws [][]byte
		if from <= head {
			it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: eventKey(from), UpperBound: eventKey(head + 1)})
			if err != nil {
				return fmt.Errorf("follow: %w", err)
			}
			for ok := it.First(); ok && len(raws) < followChunk; ok = it.Next() {
				raws = append(raws, append([]byte(nil), it.Value()...))
				from = binary.BigEndian.Uint64(it.Key()[1:]) + 1
			}
			if err := it.Close(); err != nil {
				return fmt.Errorf("follow: %w", err)
			}
		}
		if len(raws) > 0 {
			if err := handle(raws, from-1); err != nil {
				return err
			}
			continue
		}
		if err := s.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// sleep waits for wait (a commit notification), the end of ctx or the
// store's Close.
func (s *Store) sleep(ctx context.Context, wait <-chan struct{}) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return domain.ErrStoreClosed
	case <-wait:
		return nil
	}
}
