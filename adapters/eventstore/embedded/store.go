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
// Keys (all integers big-endian, so they sort by number):
//
//	e <position>                    -> the event's JSON envelope
//	s <stream> 0x00 <version>       -> position
//	i <event_id>                    -> position
//	t <tenant> 0x00 <position>      -> nothing (the tenant's feed)
//	v <stream>                      -> the stream's last version
//
// Nothing of the history is held in memory; the committer keeps a bounded
// cache of recent stream versions.
package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/cockroachdb/pebble/vfs"

	"github.com/recallledger/recall/adapters/pebblefs"
	"github.com/recallledger/recall/adapters/pebblelog"
	"github.com/recallledger/recall/domain"
)

// ErrClosed is returned by a store that was closed.
var ErrClosed = errors.New("event store closed")

// ErrEventIDReused is an append that repeats some event ids already stored,
// or repeats them on another stream: not a retry, a conflict.
var ErrEventIDReused = errors.New("event id already used")

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
}

// ErrDiskFull is returned for appends while the disk is full.
var ErrDiskFull = fmt.Errorf("disk full: %w", domain.ErrUnavailable)

type appendReq struct {
	stream   string
	expected int64
	events   []domain.Event
	encoded  []envelope
	reply    chan appendResult
}

type appendResult struct {
	events []domain.Event
	dup    bool // an idempotent retry: events are the stored originals
	err    error
}

// group is a batch applied in order and waiting for its fsync.
type group struct {
	batch   *pebble.Batch
	reqs    []*appendReq
	results []appendResult
	head    uint64 // the last position in the batch
}

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
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// Head is the position of the last durable event.
func (s *Store) Head() uint64 { return s.head.Load() }

// Append implements domain.EventStore.
func (s *Store) Append(ctx context.Context, stream string, expected int64, events []domain.Event) (domain.Appended, error) {
	req, err := s.prepare(stream, expected, events)
	if err != nil {
		return domain.Appended{}, err
	}
	if err := s.submit(ctx, req); err != nil {
		return domain.Appended{}, err
	}
	res := s.await(ctx, req)
	if res.err != nil {
		return domain.Appended{}, res.err
	}
	return domain.Appended{Events: res.events, AlreadyStored: res.dup}, nil
}

// Write is one stream's part of AppendInOrder.
type Write struct {
	Stream   string
	Expected int64
	Events   []domain.Event
}

// AppendInOrder appends writes one after another, each as Append would,
// and returns each write's stored events: positions follow the order of
// writes (other callers' appends may fall between them). It is how a
// replica copies another log in that log's order without an fsync per
// write. The first failure is returned; writes after it may have been
// stored.
func (s *Store) AppendInOrder(ctx context.Context, writes []Write) ([][]domain.Event, error) {
	reqs := make([]*appendReq, len(writes))
	for i, w := range writes {
		var err error
		if reqs[i], err = s.prepare(w.Stream, w.Expected, w.Events); err != nil {
			return nil, err
		}
	}
	submitted := 0
	var err error
	for _, r := range reqs {
		if err = s.submit(ctx, r); err != nil {
			break
		}
		submitted++
	}
	out := make([][]domain.Event, submitted)
	for i, r := range reqs[:submitted] {
		res := s.await(ctx, r)
		if res.err != nil && err == nil {
			err = fmt.Errorf("write %d of %d: %w", i+1, len(reqs), res.err)
		}
		out[i] = res.events
	}
	return out, err
}

// prepare checks and encodes an append on the caller's goroutine, so that
// the one committer only splices in versions and positions.
func (s *Store) prepare(stream string, expected int64, events []domain.Event) (*appendReq, error) {
	if len(events) == 0 {
		return nil, fmt.Errorf("append %s: no events", stream)
	}
	if stream == "" || len(stream) > 512 || strings.IndexByte(stream, 0) >= 0 {
		return nil, fmt.Errorf("append: invalid stream name %q", stream)
	}
	encoded := make([]envelope, len(events))
	for i, e := range events {
		if e.ID == "" || strings.IndexByte(e.ID, 0) >= 0 || strings.IndexByte(e.Tenant, 0) >= 0 {
			return nil, fmt.Errorf("append %s: event needs an id and a tenant without NUL", stream)
		}
		var err error
		if encoded[i], err = encodeEnvelope(e, stream); err != nil {
			return nil, fmt.Errorf("append %s: %w", stream, err)
		}
	}
	if s.diskFull.Load() {
		return nil, fmt.Errorf("append %s: %w", stream, ErrDiskFull)
	}
	return &appendReq{stream: stream, expected: expected, events: events, encoded: encoded, reply: make(chan appendResult, 1)}, nil
}

// submit hands req to the committer.
func (s *Store) submit(ctx context.Context, req *appendReq) error {
	select {
	case <-s.closed:
		return ErrClosed
	default:
	}
	select {
	case s.reqs <- req:
		return nil
	case <-s.closed:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// await waits for a submitted append's outcome. Once taken, an append
// completes whatever the caller does; the caller may stop waiting, and
// then does not know the outcome, as with any remote store.
func (s *Store) await(ctx context.Context, req *appendReq) appendResult {
	select {
	case res := <-req.reply:
		return res
	case <-s.done:
		// the committer stopped; it may have answered just before
		select {
		case res := <-req.reply:
			return res
		default:
			return appendResult{err: ErrClosed}
		}
	case <-ctx.Done():
		return appendResult{err: ctx.Err()}
	}
}

// EventByID returns the durable event with id, if there is one.
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

// Changed is closed when the next group of events is durable; take it
// before looking, so no change is missed.
func (s *Store) Changed() <-chan struct{} { return s.waitCh() }

// commitLoop validates and applies groups in order. It does not wait for
// a group's fsync: the next group is prepared while the previous one
// syncs, and syncLoop acknowledges each once it is durable.
func (s *Store) commitLoop() {
	defer close(s.syncs)
	next := s.head.Load() + 1
	for {
		var first *appendReq
		select {
		case first = <-s.reqs:
		case <-s.closed:
			for { // what was queued before the close still commits
				select {
				case r := <-s.reqs:
					next = s.commit([]*appendReq{r}, next)
				default:
					return
				}
			}
		}
		reqs := []*appendReq{first}
	drain:
		for len(reqs) < maxGroup {
			select {
			case r := <-s.reqs:
				reqs = append(reqs, r)
			default:
				break drain
			}
		}
		next = s.commit(reqs, next)
	}
}

// syncLoop waits for each group's fsync, in order, then publishes the new
// head and answers the group's appends.
func (s *Store) syncLoop() {
	defer close(s.done)
	for g := range s.syncs {
		if g.batch != nil {
			err := g.batch.SyncWait()
			g.batch.Close()
			if err == nil {
				if f := s.failed.Load(); f != nil {
					err = *f
				}
			}
			if err != nil {
				s.fail(fmt.Errorf("event store: sync failed, restart required: %w", err))
				for i := range g.results {
					g.results[i] = appendResult{err: *s.failed.Load()}
				}
			} else {
				s.head.Store(g.head)
				s.wake()
			}
		}
		for i, r := range g.reqs {
			r.reply <- g.results[i]
		}
	}
}

func (s *Store) fail(err error) { s.failed.CompareAndSwap(nil, &err) }

// staged is an event accepted into the group being committed.
type staged struct {
	stream string
	event  domain.Event
}

// commit validates a group in order, applies the accepted appends as one
// batch and hands it to syncLoop. It returns the next free position.
func (s *Store) commit(reqs []*appendReq, next uint64) uint64 {
	g := &group{reqs: reqs, results: make([]appendResult, len(reqs))}
	if f := s.failed.Load(); f != nil {
		for i := range g.results {
			g.results[i] = appendResult{err: *f}
		}
		s.syncs <- g
		return next
	}
	b := s.db.NewBatch()
	// a write to the batch that fails leaves it partial: the group is then
	// refused whole, so no append lands without its indexes
	var werr error
	set := func(k, v []byte) {
		if werr == nil {
			werr = b.Set(k, v, nil)
		}
	}
	start := next
	pendingVersions := map[string]int64{}
	pendingIDs := map[string]staged{}
	var buf []byte
	for gi, r := range reqs {
		stored, dup, err := s.findExisting(r, pendingIDs)
		if err != nil {
			g.results[gi] = appendResult{err: err}
			continue
		}
		if dup {
			g.results[gi] = appendResult{events: stored, dup: true}
			continue
		}
		cur, ok := pendingVersions[r.stream]
		if !ok {
			if cur, err = s.streamVersion(r.stream); err != nil {
				g.results[gi] = appendResult{err: err}
				continue
			}
		}
		if r.expected != domain.AnyVersion && r.expected != cur {
			g.results[gi] = appendResult{err: &domain.WrongVersionError{Stream: r.stream, Expected: r.expected, Actual: cur}}
			continue
		}
		out := make([]domain.Event, len(r.events))
		for i, e := range r.events {
			cur++
			e.Stream, e.StreamVersion, e.Position = r.stream, cur, next
			next++
			out[i] = e
			buf = r.encoded[i].appendTo(buf[:0], cur, e.Position)
			pos := be64(e.Position)
			set(eventKey(e.Position), buf)
			set(streamKey(r.stream, uint64(cur)), pos)
			set(idKey(e.ID), pos)
			set(tenantKey(e.Tenant, e.Position), nil)
			pendingIDs[e.ID] = staged{stream: r.stream, event: e}
		}
		set(versionKey(r.stream), be64(uint64(cur)))
		pendingVersions[r.stream] = cur
		g.results[gi] = appendResult{events: out}
	}
	if werr != nil {
		// nothing of the batch is applied: every append of the group is
		// refused (a retry found in this very batch too), those refused
		// for their own reasons keep their errors
		b.Close()
		for i := range g.results {
			if g.results[i].err == nil {
				g.results[i] = appendResult{err: fmt.Errorf("append %s: batch: %w", reqs[i].stream, werr)}
			}
		}
		s.syncs <- g
		return start
	}
	if next == start {
		b.Close()
		s.syncs <- g
		return next
	}
	if err := s.db.ApplyNoSyncWait(b, pebble.Sync); err != nil {
		b.Close()
		s.fail(fmt.Errorf("event store: apply failed, restart required: %w", err))
		for i := range g.results {
			g.results[i] = appendResult{err: *s.failed.Load()}
		}
		s.syncs <- g
		return start
	}
	if len(s.versions) > versionCacheLimit {
		clear(s.versions)
	}
	for stream, v := range pendingVersions {
		s.versions[stream] = v
	}
	g.batch, g.head = b, next-1
	s.syncs <- g
	return next
}

// findExisting reports whether every event id of r is already stored (or
// staged) on r's stream: an idempotent retry, answered with the stored
// events. Some ids stored, or stored on another stream, is an error.
func (s *Store) findExisting(r *appendReq, pending map[string]staged) ([]domain.Event, bool, error) {
	var found []domain.Event
	for _, e := range r.events {
		if e.ID == "" {
			return nil, false, fmt.Errorf("append %s: event without an id", r.stream)
		}
		if st, ok := pending[e.ID]; ok {
			if st.stream != r.stream {
				return nil, false, fmt.Errorf("append %s: event %s is on stream %s: %w", r.stream, e.ID, st.stream, ErrEventIDReused)
			}
			found = append(found, st.event)
			continue
		}
		v, closer, err := s.db.Get(idKey(e.ID))
		if errors.Is(err, pebble.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("append %s: %w", r.stream, err)
		}
		pos := binary.BigEndian.Uint64(v)
		closer.Close()
		stored, err := s.eventAt(pos)
		if err != nil {
			return nil, false, err
		}
		if stored.Stream != r.stream {
			return nil, false, fmt.Errorf("append %s: event %s is on stream %s: %w", r.stream, e.ID, stored.Stream, ErrEventIDReused)
		}
		found = append(found, stored)
	}
	switch {
	case len(found) == 0:
		return nil, false, nil
	case len(found) != len(r.events):
		return nil, false, fmt.Errorf("append %s: %d of %d event ids already stored: %w", r.stream, len(found), len(r.events), ErrEventIDReused)
	}
	return found, true, nil
}

// streamVersion is the version of the stream's last event, NoStream if
// none. It sees groups applied but not yet synced, as it must: they come
// before the group being validated.
func (s *Store) streamVersion(stream string) (int64, error) {
	if v, ok := s.versions[stream]; ok {
		return v, nil
	}
	v := domain.NoStream
	raw, closer, err := s.db.Get(versionKey(stream))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return 0, fmt.Errorf("version of %s: %w", stream, err)
	default:
		v = int64(binary.BigEndian.Uint64(raw))
		closer.Close()
	}
	s.versions[stream] = v
	return v, nil
}

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

// ReadStream implements domain.EventStore.
func (s *Store) ReadStream(ctx context.Context, stream string) ([]domain.Event, error) {
	prefix := streamPrefix(stream)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
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

// Follow implements domain.EventStore: it reads what is stored in chunks,
// then sleeps on the commit notification until new events arrive.
func (s *Store) Follow(ctx context.Context, from uint64, tenant string, handle func(domain.Event) error) error {
	from = max(from, 1)
	for {
		wait := s.waitCh() // taken before reading, so no commit is missed
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
		if tenant != "" && s.Head() >= from {
			// only other tenants' events so far: skip past them
			from = s.Head() + 1
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closed:
			return ErrClosed
		case <-wait:
		}
	}
}

// FollowRaw is Follow over the whole log handing over the events' stored
// JSON (schema v1 envelopes) without decoding them, a chunk at a time:
// consecutive events as they are read, last being the last one's position.
// Feeds that pass events on as JSON save a decode and an encode per event,
// and can apply a chunk in one transaction.
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
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closed:
			return ErrClosed
		case <-wait:
		}
	}
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

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v) }

func eventKey(pos uint64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, 9), 'e'), pos)
}

func streamPrefix(stream string) []byte {
	k := make([]byte, 0, len(stream)+2+8)
	return append(append(append(k, 's'), stream...), 0)
}

func streamKey(stream string, version uint64) []byte {
	return binary.BigEndian.AppendUint64(streamPrefix(stream), version)
}

func idKey(id string) []byte { return append([]byte{'i'}, id...) }

func versionKey(stream string) []byte { return append([]byte{'v'}, stream...) }

func tenantKey(tenant string, pos uint64) []byte {
	k := make([]byte, 0, len(tenant)+2+8)
	k = append(append(append(k, 't'), tenant...), 0)
	return binary.BigEndian.AppendUint64(k, pos)
}

// prefixEnd is the smallest key greater than every key with prefix, for a
// prefix ending in 0x00.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte{}, prefix...)
	end[len(end)-1]++
	return end
}
