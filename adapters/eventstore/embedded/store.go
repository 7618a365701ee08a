// Package embedded is the default event store: a durable log in a local
// directory, on the pebble storage engine, implementing domain.EventStore.
//
// One committer goroutine owns every write. It takes all appends pending at
// once, checks each one's expected version and event ids, gives the
// accepted events contiguous positions and applies them as one pebble
// batch; a second goroutine waits for each batch's fsync, in order, and
// only then acknowledges its appends and advances the head. Concurrent
// appends share one fsync (group commit), the next group is prepared while
// the last one syncs, positions never have gaps, and nothing is visible to
// readers or acknowledged before it is on disk.
//
// The files follow the store's seams: commit.go the write path (the
// committer and the syncer), read.go reads, follow.go the live feed,
// keys.go the key layout, purge.go the tenant purge.
//
// Nothing of the history is held in memory; the committer keeps a bounded
// cache of recent stream versions.
package embedded

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/cockroachdb/pebble/vfs"

	"github.com/recallledger/recall/adapters/pebblefs"
	"github.com/recallledger/recall/adapters/pebblelog"
	"github.com/recallledger/recall/domain"
)

const (
	maxGroup          = 4096 // appends committed together at most
	versionCacheLimit = 1 << 16
	followChunk       = 512
)

// Store is the embedded event store.
type Store struct {
	db    *pebble.DB
	reqs  chan *appendReq
	syncs chan *group
	done  chan struct{}

	head   atomic.Uint64
	failed atomic.Pointer[error] // sticky: a batch whose durability is unknown

	closeOnce sync.Once
	closed    chan struct{}
	closeErr  error // what the first Close returned, for every later one

	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced after each durable group

	versions map[string]int64 // owned by the committer goroutine

	diskFull atomic.Bool

	// snapMu keeps SaveSnapshot's writes, which do not go through the
	// committer, off a closed database: Close takes it to close.
	snapMu sync.RWMutex
}

// ErrDiskFull is returned for appends while the disk is full.
var ErrDiskFull = fmt.Errorf("disk full: %w", domain.ErrUnavailable)

// Options tune Open; the zero value is the real disk.
type Options struct {
	// FS is the file system (tests inject faults); nil is the real one.
	FS vfs.FS
	// SpaceAvailable reports whether the disk has room again after a
	// write failed for lack of it; nil checks that the data directory's
	// file system has 64 MiB free.
	SpaceAvailable func() bool
}

// Open opens (or creates) the store in dir.
func Open(dir string) (*Store, error) { return OpenWith(dir, Options{}) }

// OpenWith opens the store in dir with options.
//
// A full disk does not crash the store: pebble would otherwise treat a
// failed log write as fatal. The write waits, new appends are refused at
// once with domain.ErrUnavailable, and writing resumes when there is room
// again; nothing acknowledged is lost and nothing half-written is served.
func OpenWith(dir string, o Options) (*Store, error) {
	s := &Store{
		reqs: make(chan *appendReq, maxGroup), syncs: make(chan *group, 64), done: make(chan struct{}),
		closed: make(chan struct{}), notify: make(chan struct{}), versions: map[string]int64{},
	}
	opts := pebbleOptions()
	opts.FS = pebblefs.Waiting(o.FS, dir, "event store", o.SpaceAvailable, s.diskFull.Store, s.closed)
	db, err := pebble.Open(dir, opts)
	opts.Cache.Unref() // the DB holds its own reference
	if err != nil {
		return nil, fmt.Errorf("open event store %s: %w", dir, err)
	}
	s.db = db
	head, err := s.lastPosition()
	if err != nil {
		db.Close()
		return nil, err
	}
	s.head.Store(head)
	go s.commitLoop()
	go s.syncLoop()
	return s, nil
}

// pebbleOptions tunes pebble for this workload: most lookups on the write
// path are of keys that do not exist (a new event id, a new stream), which
// bloom filters answer without reading blocks; the cache is bounded so
// memory stays flat as history grows.
func pebbleOptions() *pebble.Options {
	opts := &pebble.Options{Logger: pebblelog.Logger{Store: "event store"}, Cache: pebble.NewCache(48 << 20), MemTableSize: 8 << 20}
	opts.Levels = make([]pebble.LevelOptions, 7)
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		opts.Levels[i].FilterType = pebble.TableFilter
	}
	return opts.EnsureDefaults()
}

// Close stops accepting appends, finishes those already taken, and closes
// the storage. A write waiting for disk space stops waiting and fails (its
// append is refused, never acknowledged), so Close does not hang on a full
// disk. Close may be called again, from any goroutine: it waits for the
// first call to finish and returns what it returned.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		<-s.done
		s.snapMu.Lock()
		defer s.snapMu.Unlock()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// Head is the position of the last durable event.
func (s *Store) Head() uint64 { return s.head.Load() }
