// Package readmodel stores read models durably in the data directory, on
// pebble: one database, a namespace (key prefix) per projection.
//
// Updates commit without waiting for an fsync: a read model is derived
// from the event log, and its checkpoint commits in the same batch, so a
// crash can only lose a suffix of updates together with the checkpoint
// that covers them, which the runner then applies again.
package readmodel

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/cockroachdb/pebble/vfs"

	"github.com/recallledger/recall/adapters/pebblefs"
	"github.com/recallledger/recall/adapters/pebblelog"
	"github.com/recallledger/recall/projections"
)

// Store is the pebble read-model store.
//
// Writes to one namespace are serial: Update and Drop hold the
// namespace's lock from their first read to their commit. A projection's
// writers are not only its runner: the audit retention purge rewrites the
// same chain head and anchor that the runner appends to, and a rebuild
// drops what the runner writes. pebble's batches read the latest committed
// state, not a snapshot, so two interleaved read-modify-write transactions
// would each commit what followed from a state the other had already
// changed (a reused seq, an entry deleted under a live append). One lock
// per namespace keeps every writer, present or future, correct without
// each knowing the others; different projections still write in parallel.
type Store struct {
	db *pebble.DB

	closing   chan struct{} // closed by Close: a write waiting for disk space gives up
	closeOnce sync.Once
	closeErr  error

	mu    sync.Mutex
	locks map[string]*sync.Mutex // namespace → its writers' lock
}

var _ projections.Store = (*Store)(nil)

// Options tune OpenWith; the zero value is the real disk.
type Options struct {
	// FS is the file system (tests inject faults); nil is the real one.
	FS vfs.FS
	// SpaceAvailable reports whether the disk has room again after a
	// write failed for lack of it; nil checks the directory's free space.
	SpaceAvailable func() bool
}

// Open opens (or creates) the store in dir.
func Open(dir string) (*Store, error) { return OpenWith(dir, Options{}) }

// OpenWith opens (or creates) the store in dir with options.
func OpenWith(dir string, o Options) (*Store, error) {
	opts := &pebble.Options{Logger: pebblelog.Logger{Store: "read models"}, Cache: pebble.NewCache(32 << 20), MemTableSize: 8 << 20}
	opts.Levels = make([]pebble.LevelOptions, 7)
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		opts.Levels[i].FilterType = pebble.TableFilter
	}
	closing := make(chan struct{})
	opts.FS = pebblefs.Waiting(o.FS, dir, "read models", o.SpaceAvailable, nil, closing)
	db, err := pebble.Open(dir, opts.EnsureDefaults())
	opts.Cache.Unref()
	if err != nil {
		return nil, fmt.Errorf("open read models %s: %w", dir, err)
	}
	return &Store{db: db, closing: closing, locks: map[string]*sync.Mutex{}}, nil
}

// lock takes ns's write lock and returns its release.
func (s *Store) lock(ns string) func() {
	s.mu.Lock()
	l, ok := s.locks[ns]
	if !ok {
		l = &sync.Mutex{}
		s.locks[ns] = l
	}
	s.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Metrics are the storage engine's figures: flushes, compactions and
// what they still owe, caches, levels.
func (s *Store) Metrics() *pebble.Metrics { return s.db.Metrics() }

// Close flushes and closes the store. A write waiting for disk space stops
// waiting and fails, so Close does not hang on a full disk (what it loses
// is re-applied from the log: the checkpoint commits with the updates).
// Close may be called again and returns what the first call returned.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

func namespace(ns string) []byte { return append([]byte(ns), 0) }

// Update implements projections.Store. Updates (and Drops) of one
// namespace run one at a time, so fn must not itself update or drop its
// own namespace.
func (s *Store) Update(ns string, fn func(projections.Tx) error) error {
	defer s.lock(ns)()
	b := s.db.NewIndexedBatch()
	defer b.Close()
	if err := fn(&tx{r: b, w: b, prefix: namespace(ns)}); err != nil {
		return err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("commit %s: %w", ns, err)
	}
	return nil
}

// View implements projections.Store.
func (s *Store) View(ns string, fn func(projections.Tx) error) error {
	snap := s.db.NewSnapshot()
	defer snap.Close()
	return fn(&tx{r: snap, prefix: namespace(ns)})
}

// Drop implements projections.Store: range deletions around the kept
// prefixes, in one synced batch, serial with the namespace's Updates.
func (s *Store) Drop(ns string, keep ...[]byte) error {
	defer s.lock(ns)()
	p := namespace(ns)
	kept := make([][]byte, len(keep))
	for i, k := range keep {
		kept[i] = append(append([]byte{}, p...), k...)
	}
	sort.Slice(kept, func(i, j int) bool { return bytes.Compare(kept[i], kept[j]) < 0 })
	b := s.db.NewBatch()
	defer b.Close()
	from := p
	for _, k := range kept {
		if bytes.Compare(from, k) < 0 {
			if err := b.DeleteRange(from, k, nil); err != nil {
				return fmt.Errorf("drop %s: %w", ns, err)
			}
		}
		if end := projections.PrefixEnd(k); bytes.Compare(end, from) > 0 {
			from = end
		}
	}
	if end := projections.PrefixEnd(p); bytes.Compare(from, end) < 0 {
		if err := b.DeleteRange(from, end, nil); err != nil {
			return fmt.Errorf("drop %s: %w", ns, err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("drop %s: %w", ns, err)
	}
	return nil
}

type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(*pebble.IterOptions) (*pebble.Iterator, error)
}

type tx struct {
	r      reader
	w      *pebble.Batch // nil in a view
	prefix []byte
	// seen remembers what this transaction read or wrote, absent keys too:
	// a batch of events reads the same few keys (a chain head, an anchor)
	// over and over, and a miss costs a walk through every level.
	seen map[string][]byte
}

func (t *tx) key(k []byte) []byte {
	return append(append(make([]byte, 0, len(t.prefix)+len(k)), t.prefix...), k...)
}

func (t *tx) Get(k []byte) ([]byte, error) {
	if v, ok := t.seen[string(k)]; ok {
		return clone(v), nil
	}
	out, err := t.read(k)
	if err != nil {
		return nil, err
	}
	t.remember(k, out)
	return clone(out), nil
}

// read fetches a copy of k's value from pebble, nil when absent. It
// touches no transaction state, so GetMany can call it from many
// goroutines.
func (t *tx) read(k []byte) ([]byte, error) {
	v, closer, err := t.r.Get(t.key(k))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return append([]byte{}, v...), nil
}

// parallelReads bounds the goroutines one GetMany spreads its reads over:
// enough to keep a disk's queue busy when the blocks are not cached,
// few enough that a page of cached reads does not pay for many.
const parallelReads = 16

// GetMany implements projections.Tx. A view reads from a snapshot, which
// pebble allows from many goroutines at once; a write transaction reads
// through its batch, which it does not, so it reads in turn.
func (t *tx) GetMany(keys [][]byte) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if t.w != nil || len(keys) < 2 {
		for i, k := range keys {
			v, err := t.Get(k)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	workers := min(parallelReads, len(keys))
	errs := make([]error, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(keys) {
					return
				}
				v, err := t.read(keys[i])
				if err != nil {
					errs[w] = fmt.Errorf("get %q: %w", keys[i], err)
					return
				}
				out[i] = v
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// clone copies v, keeping nil (absent) apart from empty.
func clone(v []byte) []byte {
	if v == nil {
		return nil
	}
	return append([]byte{}, v...)
}

// seenLimit bounds the per-transaction read cache.
const seenLimit = 4096

func (t *tx) remember(k, v []byte) {
	if t.seen == nil {
		t.seen = map[string][]byte{}
	}
	if len(t.seen) >= seenLimit {
		clear(t.seen)
	}
	t.seen[string(k)] = v
}

func (t *tx) Set(k, v []byte) error {
	if t.w == nil {
		return fmt.Errorf("read-only transaction")
	}
	t.remember(k, append([]byte{}, v...)) // never nil: present, if empty
	return t.w.Set(t.key(k), v, nil)
}

func (t *tx) Delete(k []byte) error {
	if t.w == nil {
		return fmt.Errorf("read-only transaction")
	}
	t.remember(k, nil)
	return t.w.Delete(t.key(k), nil)
}

func (t *tx) Scan(lower, upper []byte, reverse bool, fn func(k, v []byte) bool) error {
	lo := t.key(lower)
	hi := projections.PrefixEnd(t.prefix)
	if upper != nil {
		hi = t.key(upper)
	}
	it, err := t.r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	n := len(t.prefix)
	if reverse {
		for ok := it.Last(); ok; ok = it.Prev() {
			if !fn(it.Key()[n:], it.Value()) {
				break
			}
		}
	} else {
		for ok := it.First(); ok; ok = it.Next() {
			if !fn(it.Key()[n:], it.Value()) {
				break
			}
		}
	}
	return it.Error()
}
