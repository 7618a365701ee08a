// Package embedded is the default event store: a durable log in a local
// directory, on the pebble storage engine, implementing domain.EventStore.
//
// One committer goroutine owns every write. It takes all appends pending at
// once, checks each one's expected version and event ids, gives the
// accepted events contiguous positions, writes them in one pebble batch and
// syncs it: concurrent appends share one fsync (group commit), positions
// never have gaps, and an append is acknowledged only once it is on disk.
//
// Keys (all integers big-endian, so they sort by number):
//
//	e <position>                    -> the event's JSON envelope
//	s <stream> 0x00 <version>       -> position
//	i <event_id>                    -> position
//	t <tenant> 0x00 <position>      -> nothing (the tenant's feed)
//
// Nothing of the history is held in memory; the committer keeps a bounded
// cache of recent stream versions.
package embedded

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble"

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
	db   *pebble.DB
	reqs chan *appendReq
	done chan struct{}

	head atomic.Uint64

	closeOnce sync.Once
	closed    chan struct{}

	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced after each commit

	// owned by the committer goroutine
	versions map[string]int64
	failed   error
}

type appendReq struct {
	stream   string
	expected int64
	events   []domain.Event
	reply    chan appendResult
}

type appendResult struct {
	events []domain.Event
	err    error
}

// Open opens (or creates) the store in dir.
func Open(dir string) (*Store, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("open event store %s: %w", dir, err)
	}
	s := &Store{
		db: db, reqs: make(chan *appendReq, maxGroup), done: make(chan struct{}),
		closed: make(chan struct{}), notify: make(chan struct{}), versions: map[string]int64{},
	}
	head, err := s.lastPosition()
	if err != nil {
		db.Close()
		return nil, err
	}
	s.head.Store(head)
	go s.commitLoop()
	return s, nil
}

// Close stops accepting appends, finishes those already taken, and closes
// the storage.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	<-s.done
	return s.db.Close()
}

// Head is the position of the last durable event.
func (s *Store) Head() uint64 { return s.head.Load() }

// Append implements domain.EventStore.
func (s *Store) Append(ctx context.Context, stream string, expected int64, events []domain.Event) ([]domain.Event, error) {
	if len(events) == 0 {
		return nil, fmt.Errorf("append %s: no events", stream)
	}
	if stream == "" || len(stream) > 512 || strings.IndexByte(stream, 0) >= 0 {
		return nil, fmt.Errorf("append: invalid stream name %q", stream)
	}
	req := &appendReq{stream: stream, expected: expected, events: events, reply: make(chan appendResult, 1)}
	select {
	case <-s.closed:
		return nil, ErrClosed
	default:
	}
	select {
	case s.reqs <- req:
	case <-s.closed:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Once taken, an append completes whatever the caller does; the caller
	// may stop waiting, and then does not know the outcome, as with any
	// remote store.
	select {
	case res := <-req.reply:
		return res.events, res.err
	case <-s.done:
		// the committer stopped; it may have answered just before
		select {
		case res := <-req.reply:
			return res.events, res.err
		default:
			return nil, ErrClosed
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Store) commitLoop() {
	defer close(s.done)
	for {
		var first *appendReq
		select {
		case first = <-s.reqs:
		case <-s.closed:
			// drain what was queued before the close
			for {
				select {
				case r := <-s.reqs:
					s.commit([]*appendReq{r})
				default:
					return
				}
			}
		}
		group := []*appendReq{first}
	drain:
		for len(group) < maxGroup {
			select {
			case r := <-s.reqs:
				group = append(group, r)
			default:
				break drain
			}
		}
		s.commit(group)
	}
}

// staged is an event accepted into the group being committed.
type staged struct {
	stream string
	event  domain.Event
}

// commit validates a group in order, writes the accepted appends in one
// synced batch, and answers every request.
func (s *Store) commit(group []*appendReq) {
	if s.failed != nil {
		for _, r := range group {
			r.reply <- appendResult{err: s.failed}
		}
		return
	}
	b := s.db.NewBatch()
	defer b.Close()
	next := s.head.Load() + 1
	pendingVersions := map[string]int64{}
	pendingIDs := map[string]staged{}
	results := make([]appendResult, len(group))

	for gi, r := range group {
		stored, dup, err := s.findExisting(r, pendingIDs)
		if err != nil {
			results[gi] = appendResult{err: err}
			continue
		}
		if dup {
			results[gi] = appendResult{events: stored}
			continue
		}
		cur, ok := pendingVersions[r.stream]
		if !ok {
			if cur, err = s.streamVersion(r.stream); err != nil {
				results[gi] = appendResult{err: err}
				continue
			}
		}
		if r.expected != domain.AnyVersion && r.expected != cur {
			results[gi] = appendResult{err: &domain.WrongVersionError{Stream: r.stream, Expected: r.expected, Actual: cur}}
			continue
		}
		out := make([]domain.Event, len(r.events))
		var encErr error
		for i, e := range r.events {
			cur++
			e.Stream, e.StreamVersion, e.Position = r.stream, cur, next
			next++
			data, err := json.Marshal(e)
			if err != nil {
				encErr = fmt.Errorf("append %s: encode %s: %w", r.stream, e.ID, err)
				break
			}
			out[i] = e
			pos := be64(e.Position)
			_ = b.Set(eventKey(e.Position), data, nil)
			_ = b.Set(streamKey(r.stream, uint64(e.StreamVersion)), pos, nil)
			_ = b.Set(idKey(e.ID), pos, nil)
			_ = b.Set(tenantKey(e.Tenant, e.Position), nil, nil)
			pendingIDs[e.ID] = staged{stream: r.stream, event: e}
		}
		if encErr != nil {
			// Encoding happens before anything is committed; an event that
			// cannot be encoded is a programming error, refuse the group.
			s.failGroup(group, encErr)
			return
		}
		pendingVersions[r.stream] = cur
		results[gi] = appendResult{events: out}
	}

	if !b.Empty() {
		if err := b.Commit(pebble.Sync); err != nil {
			// Whether the batch reached the disk is unknown: refuse every
			// later append rather than risk gaps or duplicates.
			s.failed = fmt.Errorf("event store: commit failed, restart required: %w", err)
			s.failGroup(group, s.failed)
			return
		}
		if len(s.versions) > versionCacheLimit {
			clear(s.versions)
		}
		for stream, v := range pendingVersions {
			s.versions[stream] = v
		}
		s.head.Store(next - 1)
		s.wake()
	}
	for gi, r := range group {
		r.reply <- results[gi]
	}
}

func (s *Store) failGroup(group []*appendReq, err error) {
	for _, r := range group {
		r.reply <- appendResult{err: err}
	}
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

// streamVersion is the version of the stream's last event, NoStream if none.
func (s *Store) streamVersion(stream string) (int64, error) {
	if v, ok := s.versions[stream]; ok {
		return v, nil
	}
	prefix := streamPrefix(stream)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return 0, fmt.Errorf("version of %s: %w", stream, err)
	}
	defer it.Close()
	v := domain.NoStream
	if it.Last() {
		v = int64(binary.BigEndian.Uint64(it.Key()[len(prefix):]))
	}
	if err := it.Error(); err != nil {
		return 0, fmt.Errorf("version of %s: %w", stream, err)
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
	for it.First(); it.Valid(); it.Next() {
		e, err := s.eventAt(binary.BigEndian.Uint64(it.Value()))
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
			var e domain.Event
			if err := json.Unmarshal(it.Value(), &e); err != nil {
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

func (s *Store) eventAt(pos uint64) (domain.Event, error) {
	v, closer, err := s.db.Get(eventKey(pos))
	if err != nil {
		return domain.Event{}, fmt.Errorf("event at %d: %w", pos, err)
	}
	defer closer.Close()
	var e domain.Event
	if err := json.Unmarshal(v, &e); err != nil {
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

// quietLogger keeps pebble's informational chatter out of the server log
// and passes its errors on.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	slog.Error("event store: " + fmt.Sprintf(format, args...))
}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}
