package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble"

	"github.com/recallledger/recall/domain"
)

// PurgedUpTo is the position up to which the tenant's history was purged,
// 0 if never.
func (s *Store) PurgedUpTo(tenant string) (uint64, error) {
	v, closer, err := s.db.Get(purgedKey(tenant))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("purged position of %s: %w", tenant, err)
	}
	defer closer.Close()
	return binary.BigEndian.Uint64(v), nil
}

// PurgeTenant implements domain.TenantPurger, for audit retention: the
// tenant's audit entries are gone, and so must the facts be.
func (s *Store) PurgeTenant(ctx context.Context, tenant string, upTo uint64) (int, error) {
	done, err := s.PurgedUpTo(tenant)
	if err != nil || upTo <= done {
		return 0, err
	}
	if tenant == "" || strings.IndexByte(tenant, 0) >= 0 {
		return 0, fmt.Errorf("purge: invalid tenant %q", tenant)
	}
	b := s.db.NewBatch()
	defer b.Close()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: tenantKey(tenant, done+1), UpperBound: tenantKey(tenant, upTo+1)})
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", tenant, err)
	}
	n := 0
	plen := len(tenantKey(tenant, 0)) - 8
	for it.First(); it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			it.Close()
			return 0, err
		}
		pos := binary.BigEndian.Uint64(it.Key()[plen:])
		e, err := s.eventAt(pos)
		if err != nil {
			it.Close()
			return 0, fmt.Errorf("purge %s: %w", tenant, err)
		}
		if domain.IsKeptStream(tenant, e.Stream) {
			continue
		}
		// the stream's snapshot goes too: it would no longer match the
		// stream, and it holds what was purged
		for _, k := range [][]byte{eventKey(pos), tenantKey(tenant, pos), streamKey(e.Stream, uint64(e.StreamVersion)), idKey(e.ID), snapshotKey(e.Stream)} {
			if err := b.Delete(k, nil); err != nil {
				// the batch is partial: it is dropped, nothing is purged
				it.Close()
				return 0, fmt.Errorf("purge %s at %d: %w", tenant, pos, err)
			}
		}
		n++
	}
	if err := it.Close(); err != nil {
		return 0, fmt.Errorf("purge %s: %w", tenant, err)
	}
	if err := b.Set(purgedKey(tenant), be64(upTo), nil); err != nil {
		return 0, fmt.Errorf("purge %s: %w", tenant, err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, fmt.Errorf("purge %s: %w", tenant, err)
	}
	return n, nil
}
