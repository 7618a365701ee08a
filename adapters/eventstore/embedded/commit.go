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

// AppendInOrder implements domain.OrderedAppender: one committer round
// takes every write, so the writes share their fsyncs.
func (s *Store) AppendInOrder(ctx context.Context, writes []domain.StreamWrite) ([][]domain.Event, error) {
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
		return domain.ErrStoreClosed
	default:
	}
	select {
	case s.reqs <- req:
		return nil
	case <-s.closed:
		return domain.ErrStoreClosed
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
			return appendResult{err: domain.ErrStoreClosed}
		}
	case <-ctx.Done():
		return appendResult{err: ctx.Err()}
	}
}

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
				g.refuseAll(*s.failed.Load())
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
		g.refuseAll(*f)
		s.syncs <- g
		return next
	}
	st := &staging{b: s.db.NewBatch(), versions: map[string]int64{}, ids: map[string]staged{}}
	start := next
	for gi, r := range reqs {
		g.results[gi], next = s.stage(st, r, next)
	}
	if st.werr != nil {
		// nothing of the batch is applied: every append of the group is
		// refused (a retry found in this very batch too), those refused
		// for their own reasons keep their errors
		st.b.Close()
		for i := range g.results {
			if g.results[i].err == nil {
				g.results[i] = appendResult{err: fmt.Errorf("append %s: batch: %w", reqs[i].stream, st.werr)}
			}
		}
		s.syncs <- g
		return start
	}
	if next == start {
		st.b.Close()
		s.syncs <- g
		return next
	}
	if err := s.db.ApplyNoSyncWait(st.b, pebble.Sync); err != nil {
		st.b.Close()
		s.fail(fmt.Errorf("event store: apply failed, restart required: %w", err))
		g.refuseAll(*s.failed.Load())
		s.syncs <- g
		return start
	}
	if len(s.versions) > versionCacheLimit {
		clear(s.versions)
	}
	for stream, v := range st.versions {
		s.versions[stream] = v
	}
	g.batch, g.head = st.b, next-1
	s.syncs <- g
	return next
}

// refuseAll answers every append of the group with err.
func (g *group) refuseAll(err error) {
	for i := range g.results {
		g.results[i] = appendResult{err: err}
	}
}

// staging is the batch a group is being written into, with what it holds
// so far: the streams' new versions and the events by id, which the
// group's later appends must see.
type staging struct {
	b        *pebble.Batch
	werr     error // the first failed write: the batch is partial, the group refused
	versions map[string]int64
	ids      map[string]staged
	buf      []byte
}

// set writes k, unless an earlier write failed.
func (st *staging) set(k, v []byte) {
	if st.werr == nil {
		st.werr = st.b.Set(k, v, nil)
	}
}

// stage checks r against the store and what the group staged before it
// and, when it is accepted, writes its events from position next into the
// batch. It returns r's answer and the next free position.
func (s *Store) stage(st *staging, r *appendReq, next uint64) (appendResult, uint64) {
	stored, dup, err := s.findExisting(r, st.ids)
	if err != nil {
		return appendResult{err: err}, next
	}
	if dup {
		return appendResult{events: stored, dup: true}, next
	}
	cur, ok := st.versions[r.stream]
	if !ok {
		if cur, err = s.streamVersion(r.stream); err != nil {
			return appendResult{err: err}, next
		}
	}
	if r.expected != domain.AnyVersion && r.expected != cur {
		return appendResult{err: &domain.WrongVersionError{Stream: r.stream, Expected: r.expected, Actual: cur}}, next
	}
	out := make([]domain.Event, len(r.events))
	for i, e := range r.events {
		cur++
		e.Stream, e.StreamVersion, e.Position = r.stream, cur, next
		next++
		out[i] = e
		st.buf = r.encoded[i].appendTo(st.buf[:0], cur, e.Position)
		pos := be64(e.Position)
		st.set(eventKey(e.Position), st.buf)
		st.set(streamKey(r.stream, uint64(cur)), pos)
		st.set(idKey(e.ID), pos)
		st.set(tenantKey(e.Tenant, e.Position), nil)
		st.ids[e.ID] = staged{stream: r.stream, event: e}
	}
	st.set(versionKey(r.stream), be64(uint64(cur)))
	st.versions[r.stream] = cur
	return appendResult{events: out}, next
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
				return nil, false, fmt.Errorf("append %s: event %s is on stream %s: %w", r.stream, e.ID, st.stream, domain.ErrEventIDReused)
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
			return nil, false, fmt.Errorf("append %s: event %s is on stream %s: %w", r.stream, e.ID, stored.Stream, domain.ErrEventIDReused)
		}
		found = append(found, stored)
	}
	switch {
	case len(found) == 0:
		return nil, false, nil
	case len(found) != len(r.events):
		return nil, false, fmt.Errorf("append %s: %d of %d event ids already stored: %w", r.stream, len(found), len(r.events), domain.ErrEventIDReused)
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
