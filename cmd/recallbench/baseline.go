package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"

	"github.com/recallledger/recall/adapters/pebblelog"
)

// rawPebble measures the storage engine alone: n synced single-key writes
// of a 316-byte value by concurrency writers straight to a fresh pebble in
// dir on fs (nil: the real disk), with none of the ledger's logic (no
// versions, no indexes, no JSON). The append scenario reports the event
// store's overhead against it. On an in-memory file system a sync costs
// nothing: that checks the scenario's plumbing and measures nothing.
func rawPebble(ctx context.Context, fs vfs.FS, dir string, concurrency, n int) (eventsPerSec float64, err error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebblelog.Logger{Store: "baseline"}, FS: fs})
	if err != nil {
		return 0, fmt.Errorf("baseline: %w", err)
	}
	defer db.Close()
	value := make([]byte, 316)
	start := time.Now()
	err = pool(ctx, concurrency, n, func(_, i int) error {
		// the event store's key for the event at position i+1
		return db.Set(binary.BigEndian.AppendUint64(append(make([]byte, 0, 9), 'e'), uint64(i+1)), value, pebble.Sync)
	})
	if err != nil {
		return 0, fmt.Errorf("baseline: %w", err)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
