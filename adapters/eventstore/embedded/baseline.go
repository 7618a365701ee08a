package embedded

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"

	"github.com/recallledger/recall/adapters/pebblelog"
)

// RawBaseline measures the storage engine alone: n synced single-key
// writes of a 316-byte value by concurrency writers straight to a fresh
// pebble in dir, with none of the ledger's logic (no versions, no indexes,
// no JSON). Benchmarks report the store's overhead against it.
func RawBaseline(dir string, concurrency, n int) (eventsPerSec float64, err error) {
	return RawBaselineOn(nil, dir, concurrency, n)
}

// RawBaselineOn is RawBaseline on the file system fs (nil: the real disk).
// On an in-memory one a sync costs nothing: that checks a benchmark's
// plumbing and measures nothing.
func RawBaselineOn(fs vfs.FS, dir string, concurrency, n int) (eventsPerSec float64, err error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebblelog.Logger{Store: "baseline"}, FS: fs})
	if err != nil {
		return 0, fmt.Errorf("baseline: %w", err)
	}
	defer db.Close()
	value := make([]byte, 316)
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				if err := db.Set(eventKey(uint64(i)), value, pebble.Sync); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if e, ok := firstErr.Load().(error); ok {
		return 0, fmt.Errorf("baseline: %w", e)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
