// Package keystore is the embedded key store (domain.DataKeyStore): the
// wrapped data keys of message content in a pebble database of their own
// in the data directory (DIR/keys), apart from the log, so that destroying
// a key never touches the log.
//
// Every write is synced. A destroyed key is overwritten, in one batch for
// all the keys of one shred, by a tombstone that holds no key material
// (only the reason), so a crash leaves each key live or destroyed, and the
// store can tell "shredded" from "never held". The old bytes leave the
// disk when the memtable is flushed and the tables holding them are
// compacted (Compact; recalld compacts after shredding), and pebble's
// write-ahead log files are deleted, never recycled, once flushed: a
// recycled log file would keep old records past its new end.
//
// This store is one node's. Several recalld nodes over one EventStoreDB
// each need every key: they must share a key store (README: "Where the
// keys live"), which this package is not.
package keystore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble"

	"github.com/recallledger/recall/adapters/pebblelog"
	"github.com/recallledger/recall/domain"
)

// Store is the embedded key store. Safe for concurrent use.
type Store struct {
	db *pebble.DB

	// rewrapping is held for writing by Rewrap while it replaces a key,
	// and for reading by Destroy: a rewrap never brings back a key
	// destroyed under it. Put needs neither (its ids are new and random).
	rewrapping sync.RWMutex
	// destroyed counts Destroy and Rewrap writes since the last compaction.
	destroyed atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

// deletingCleaner deletes obsolete files as pebble's default cleaner
// does (its Clean is DeleteCleaner's), and carries ArchiveCleaner's marker
// that it needs their contents, one level down so that it does not shadow
// that Clean: with the marker, pebble deletes obsolete write-ahead logs
// instead of recycling them, whose tails would keep destroyed keys'
// records.
type deletingCleaner struct {
	pebble.DeleteCleaner
	archiveMarker
}

type archiveMarker struct{ pebble.ArchiveCleaner }

// Open opens (creating) the key store in dir.
func Open(dir string) (*Store, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebblelog.Logger{Store: "key store"}, Cleaner: deletingCleaner{}})
	if err != nil {
		return nil, fmt.Errorf("open key store %s: %w", dir, err)
	}
	return &Store{db: db}, nil
}

// Close closes the store; again returns what the first call returned.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.db.Close() })
	return s.closeErr
}

// Values: a state byte, then for a live key its KEK id's length (one
// byte), the KEK id and the wrapped blob; for a tombstone the reason.
const (
	stateLive      = 1
	stateDestroyed = 2
)

func dbKey(t domain.Tenant, id string) []byte {
	ts := t.String()
	k := make([]byte, 0, 3+len(ts)+len(id))
	k = append(append(append(append(k, 'k', 0), ts...), 0), id...)
	return k
}

// splitKey is dbKey's inverse.
func splitKey(k []byte) (domain.Tenant, string, error) {
	if len(k) < 2 || k[0] != 'k' || k[1] != 0 {
		return domain.Tenant{}, "", fmt.Errorf("key store: unexpected key %q", k)
	}
	rest := k[2:]
	for i, c := range rest {
		if c == 0 {
			t, err := domain.ParseTenant(string(rest[:i]))
			return t, string(rest[i+1:]), err
		}
	}
	return domain.Tenant{}, "", fmt.Errorf("key store: unexpected key %q", k)
}

func liveValue(w domain.WrappedKey) ([]byte, error) {
	if len(w.KEKID) == 0 || len(w.KEKID) > 255 {
		return nil, fmt.Errorf("key store: KEK id %q", w.KEKID)
	}
	v := make([]byte, 0, 2+len(w.KEKID)+len(w.Blob))
	v = append(append(append(v, stateLive, byte(len(w.KEKID))), w.KEKID...), w.Blob...)
	return v, nil
}

func decodeValue(v []byte) (domain.WrappedKey, domain.KeyState, error) {
	switch {
	case len(v) >= 1 && v[0] == stateDestroyed:
		return domain.WrappedKey{}, domain.KeyDestroyed, nil
	case len(v) >= 2 && v[0] == stateLive && len(v) >= 2+int(v[1]):
		n := int(v[1])
		return domain.WrappedKey{KEKID: string(v[2 : 2+n]), Blob: append([]byte(nil), v[2+n:]...)}, domain.KeyLive, nil
	}
	return domain.WrappedKey{}, domain.KeyUnknown, errors.New("key store: a corrupt value")
}

// Put implements domain.DataKeyStore: the keys in one synced batch.
func (s *Store) Put(_ context.Context, t domain.Tenant, keys []domain.StoredKey) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, k := range keys {
		dk := dbKey(t, k.ID)
		if _, closer, err := s.db.Get(dk); err == nil {
			closer.Close()
			return fmt.Errorf("key store: key %s of %s already held", k.ID, t)
		} else if !errors.Is(err, pebble.ErrNotFound) {
			return fmt.Errorf("key store: %w", err)
		}
		v, err := liveValue(k.Wrapped)
		if err != nil {
			return err
		}
		if err := b.Set(dk, v, nil); err != nil {
			return fmt.Errorf("key store: %w", err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("key store: keep keys: %w", err)
	}
	return nil
}

// Get implements domain.DataKeyStore.
func (s *Store) Get(_ context.Context, t domain.Tenant, id string) (domain.WrappedKey, domain.KeyState, error) {
	v, closer, err := s.db.Get(dbKey(t, id))
	if errors.Is(err, pebble.ErrNotFound) {
		return domain.WrappedKey{}, domain.KeyUnknown, nil
	}
	if err != nil {
		return domain.WrappedKey{}, domain.KeyUnknown, fmt.Errorf("key store: %w", err)
	}
	defer closer.Close()
	return decodeValue(v)
}

// Destroy implements domain.DataKeyStore: every id becomes a tombstone in
// one synced batch (an id never held gets one too, so it can never be
// put later).
func (s *Store) Destroy(_ context.Context, t domain.Tenant, ids []string, reason domain.ShredReason) (int, error) {
	s.rewrapping.RLock()
	defer s.rewrapping.RUnlock()
	b := s.db.NewBatch()
	defer b.Close()
	live := 0
	tomb := append([]byte{stateDestroyed}, reason...)
	for _, id := range ids {
		dk := dbKey(t, id)
		v, closer, err := s.db.Get(dk)
		switch {
		case errors.Is(err, pebble.ErrNotFound):
		case err != nil:
			return 0, fmt.Errorf("key store: %w", err)
		default:
			state := v[0]
			closer.Close()
			if state == stateDestroyed {
				continue // destroyed already: no write
			}
			live++
		}
		if err := b.Set(dk, tomb, nil); err != nil {
			return 0, fmt.Errorf("key store: %w", err)
		}
	}
	if b.Empty() {
		return 0, nil
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, fmt.Errorf("key store: destroy keys: %w", err)
	}
	s.destroyed.Add(1)
	return live, nil
}

// Rewrap implements domain.DataKeyStore.
func (s *Store) Rewrap(ctx context.Context, fn func(domain.Tenant, domain.StoredKey) (domain.WrappedKey, bool, error)) (int, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("k\x00"), UpperBound: []byte("k\x01")})
	if err != nil {
		return 0, fmt.Errorf("key store: %w", err)
	}
	defer it.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		w, state, err := decodeValue(it.Value())
		if err != nil {
			return n, err
		}
		if state != domain.KeyLive {
			continue
		}
		t, id, err := splitKey(it.Key())
		if err != nil {
			return n, err
		}
		nw, replace, err := fn(t, domain.StoredKey{ID: id, Wrapped: w})
		if err != nil {
			return n, err
		}
		if !replace {
			continue
		}
		done, err := s.replaceLive(append([]byte(nil), it.Key()...), nw)
		if err != nil {
			return n, err
		}
		if done {
			n++
		}
	}
	return n, it.Error()
}

// replaceLive stores w at k if k is still a live key.
func (s *Store) replaceLive(k []byte, w domain.WrappedKey) (bool, error) {
	s.rewrapping.Lock()
	defer s.rewrapping.Unlock()
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("key store: %w", err)
	}
	state := v[0]
	closer.Close()
	if state != stateLive {
		return false, nil
	}
	nv, err := liveValue(w)
	if err != nil {
		return false, err
	}
	if err := s.db.Set(k, nv, pebble.Sync); err != nil {
		return false, fmt.Errorf("key store: rewrap: %w", err)
	}
	s.destroyed.Add(1) // the old wrapping's bytes should leave the disk too
	return true, nil
}

// CompactIfDestroyed compacts (Compact) when a key was destroyed or
// rewrapped since the last compaction, and reports whether it did.
func (s *Store) CompactIfDestroyed() (bool, error) {
	n := s.destroyed.Load()
	if n == 0 {
		return false, nil
	}
	if err := s.Compact(); err != nil {
		return false, err
	}
	s.destroyed.Add(-n)
	return true, nil
}

// Compact flushes the memtable and compacts every table, so that the
// bytes of destroyed and rewrapped keys leave the disk.
func (s *Store) Compact() error {
	if err := s.db.Flush(); err != nil {
		return fmt.Errorf("key store: flush: %w", err)
	}
	if err := s.db.Compact([]byte("k\x00"), []byte("k\x01"), true); err != nil {
		return fmt.Errorf("key store: compact: %w", err)
	}
	return nil
}
