package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"

	"github.com/recallledger/recall/domain"
)

// A snapshot's value: the version (8 bytes, big-endian), the length of
// the event id (uvarint), the id, then the state.

// ReadStreamSnapshot implements domain.StreamSnapshots. A snapshot is
// handed out only while the stream holds, at its version, a durable event
// with its event id: one the purge removed, or one of a stream written
// again, is left alone and the whole stream is read.
func (s *Store) ReadStreamSnapshot(ctx context.Context, stream string) (domain.Snapshot, []domain.Event, error) {
	snap, ok, err := s.snapshot(stream)
	if err != nil {
		return domain.Snapshot{}, nil, err
	}
	if !ok {
		evs, err := s.readStreamFrom(ctx, stream, 0)
		return domain.Snapshot{Version: domain.NoStream}, evs, err
	}
	evs, err := s.readStreamFrom(ctx, stream, uint64(snap.Version)+1)
	return snap, evs, err
}

// snapshot reads the stream's snapshot and checks it against the stream.
func (s *Store) snapshot(stream string) (domain.Snapshot, bool, error) {
	v, closer, err := s.db.Get(snapshotKey(stream))
	if errors.Is(err, pebble.ErrNotFound) {
		return domain.Snapshot{}, false, nil
	}
	if err != nil {
		return domain.Snapshot{}, false, fmt.Errorf("snapshot of %s: %w", stream, err)
	}
	snap, ok := decodeSnapshot(v)
	closer.Close()
	if !ok {
		return domain.Snapshot{}, false, nil // unreadable: the stream rebuilds it
	}
	at, found, err := s.get(streamKey(stream, uint64(snap.Version)))
	if err != nil || !found {
		return domain.Snapshot{}, false, err
	}
	byID, found, err := s.get(idKey(snap.EventID))
	if err != nil || !found {
		return domain.Snapshot{}, false, err
	}
	if !bytes.Equal(at, byID) || binary.BigEndian.Uint64(at) > s.Head() {
		return domain.Snapshot{}, false, nil
	}
	return snap, true, nil
}

// get returns a copy of the value at k, and whether there is one.
func (s *Store) get(k []byte) ([]byte, bool, error) {
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %q: %w", k, err)
	}
	defer closer.Close()
	return bytes.Clone(v), true, nil
}

func decodeSnapshot(v []byte) (domain.Snapshot, bool) {
	if len(v) < 9 {
		return domain.Snapshot{}, false
	}
	version := int64(binary.BigEndian.Uint64(v))
	n, l := binary.Uvarint(v[8:])
	if l <= 0 || version < 0 || uint64(len(v)-8-l) < n {
		return domain.Snapshot{}, false
	}
	rest := v[8+l:]
	return domain.Snapshot{Version: version, EventID: string(rest[:n]), State: bytes.Clone(rest[n:])}, true
}

// SaveSnapshot implements domain.StreamSnapshots: a write that is not
// synced (a crash may lose it; the stream rebuilds it), skipped while the
// disk is full or the store closes.
func (s *Store) SaveSnapshot(_ context.Context, stream string, snap domain.Snapshot) error {
	if snap.Version < 0 || snap.EventID == "" {
		return fmt.Errorf("snapshot of %s: at version %d, event %q: not one of its events", stream, snap.Version, snap.EventID)
	}
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+binary.MaxVarintLen64+len(snap.EventID)+len(snap.State)), uint64(snap.Version))
	v = append(append(binary.AppendUvarint(v, uint64(len(snap.EventID))), snap.EventID...), snap.State...)
	s.snapMu.RLock()
	defer s.snapMu.RUnlock()
	select {
	case <-s.closed:
		return nil
	default:
	}
	if s.diskFull.Load() {
		return nil
	}
	if err := s.db.Set(snapshotKey(stream), v, pebble.NoSync); err != nil {
		return fmt.Errorf("snapshot of %s: %w", stream, err)
	}
	return nil
}
