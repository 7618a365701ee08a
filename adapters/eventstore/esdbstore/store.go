// Package esdbstore is the domain.EventStore on EventStoreDB (KurrentDB),
// for deployments that outgrow one machine: EventStoreDB is the system of
// record, reached with EventStore-Client-Go v4.
//
// Our port promises global positions that start at 1 with no gaps, which
// EventStoreDB's $all commit positions (byte offsets, shared by the events
// of one write) do not give. So every node keeps a local index: a catch-up
// subscription to $all, filtered on the server to our streams, copies each
// event into an embedded store in $all's order, which numbers them 1, 2, 3…
// The numbering is the same on every node (it is the order of $all), and
// the index is also the durable event-id index that EventStoreDB's own
// idempotence (a bounded in-memory cache a restart forgets) does not give.
//
//   - Append writes to EventStoreDB with the expected revision, then waits
//     until the index holds the events, so it returns their positions and a
//     read right after it sees them.
//   - ReadStream asks EventStoreDB for the stream's last revision, then
//     reads the index once it has that revision: read-your-writes across
//     nodes, which optimistic concurrency needs.
//   - ReadAll, Follow and Head read the index.
//
// A stream's first append sets its $maxAge from the tenant's audit
// retention, so EventStoreDB's scavenge can drop expired history. $maxAge
// hides events from stream reads at once but $all keeps them until a
// scavenge (which this client cannot start), so retention is enforced by
// the audit projection and PurgeTenant, never left to the server.
//
// The index is an event store of its own (Options.OpenIndex; recalld gives
// the embedded one), reached only through the port and the capabilities
// domain declares: this adapter knows nothing of how it stores.
package esdbstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/recallledger/recall/domain"
)

// Options configure Open.
type Options struct {
	// URL is an EventStoreDB connection string, e.g.
	// esdb://127.0.0.1:2113?tls=false.
	URL string
	// Dir holds this node's index of the log.
	Dir string
	// OpenIndex opens (or creates) the index in a directory below Dir; the
	// store closes it. Required.
	OpenIndex func(dir string) (Index, error)
	// Namespace prefixes every stream name in EventStoreDB, so several
	// deployments (or tests) can share a server. Empty in production: the
	// streams are then named by our categories (message-…, tenant-…,
	// recall-…, audit-…, operator-…, hold-…, erasure-…) and the
	// subscription filters on those.
	Namespace string
	// MaxAge is the $maxAge to set on a tenant's new streams; nil or a
	// result of 0 sets none.
	MaxAge func(tenant string) time.Duration
	// IndexWait bounds how long Append waits for the index to hold what
	// EventStoreDB acknowledged (default 10 s).
	IndexWait time.Duration
	Logger    *slog.Logger
}

// ErrNotIndexed is an append EventStoreDB stored but the local index did
// not copy in time: the events are durable, a retry with the same event
// ids returns them.
var ErrNotIndexed = fmt.Errorf("appended to EventStoreDB but not yet indexed here: %w", domain.ErrUnavailable)

// Index is what the store needs of the local event store that holds its
// index of the log: the port, a batch of writes copied in order, events
// found by id, word of each change, raw following and the tenant purge
// for the server's consumers, and a Close.
type Index interface {
	domain.EventStore
	domain.OrderedAppender
	domain.EventLookup
	domain.ChangeWatcher
	domain.RawFollower
	domain.TenantPurger
	io.Closer
}

// categories are the stream prefixes the subscription keeps when there is
// no namespace.
var categories = []string{"message-", "tenant-", "recall-", "audit-", "operator-", "hold-", "erasure-"}

// Store is the EventStoreDB event store.
type Store struct {
	client *esdb.Client
	local  Index
	o      Options
	log    *slog.Logger

	cancel   context.CancelFunc
	done     chan struct{}
	indexErr atomic.Pointer[error]
	closeMu  sync.Once
	closeErr error // the first Close's result, returned by every later one
}

// Open connects to EventStoreDB, opens the local index in o.Dir and starts
// copying $all into it from where it stopped. It fails if the server
// cannot be reached within 10 s.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.OpenIndex == nil {
		return nil, errors.New("eventstoredb store: no OpenIndex to open its index with")
	}
	if o.IndexWait <= 0 {
		o.IndexWait = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := esdb.ParseConnectionString(o.URL)
	if err != nil {
		return nil, fmt.Errorf("--esdb-url: %w", err)
	}
	log := o.Logger
	cfg.Logger = func(level esdb.LogLevel, format string, args ...any) {
		switch level {
		case esdb.LogError, esdb.LogWarn:
			log.Warn("eventstoredb client: " + fmt.Sprintf(format, args...))
		default:
			log.Debug("eventstoredb client: " + fmt.Sprintf(format, args...))
		}
	}
	client, err := esdb.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("eventstoredb client: %w", err)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		client.Close()
		return nil, fmt.Errorf("index directory: %w", err)
	}
	local, err := o.OpenIndex(filepath.Join(o.Dir, "index"))
	if err != nil {
		client.Close()
		return nil, err
	}
	s := &Store{client: client, local: local, o: o, log: log, done: make(chan struct{})}
	from, err := s.loadCheckpoint()
	if err != nil {
		s.closeConns()
		return nil, err
	}
	// The subscription lives as long as the store, so it gets the store's
	// context; the 10 s bound is on its confirmation.
	bg, stop := context.WithCancel(context.Background())
	type subscribed struct {
		sub *esdb.Subscription
		err error
	}
	ch := make(chan subscribed, 1)
	go func() {
		sub, err := s.subscribe(bg, from)
		ch <- subscribed{sub, err}
	}()
	var sub *esdb.Subscription
	select {
	case r := <-ch:
		sub, err = r.sub, r.err
	case <-time.After(10 * time.Second):
		err = errors.New("no answer in 10 s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		stop()
		s.closeConns()
		return nil, fmt.Errorf("eventstoredb at %s: %w", redact(o.URL), err)
	}
	s.cancel = stop
	go s.index(bg, sub, from)
	return s, nil
}

// Close stops the index and closes the connection and the index. It may
// be called again and returns what the first call returned.
func (s *Store) Close() error {
	s.closeMu.Do(func() {
		s.cancel()
		<-s.done
		s.closeErr = s.closeConns()
	})
	return s.closeErr
}

func (s *Store) closeConns() error {
	s.client.Close()
	return s.local.Close()
}

// Head implements domain.EventStore: the last position indexed here.
func (s *Store) Head() uint64 { return s.local.Head() }

// ReadAll implements domain.EventStore from the index.
func (s *Store) ReadAll(ctx context.Context, from uint64, tenant string, limit int) ([]domain.Event, error) {
	return s.local.ReadAll(ctx, from, tenant, limit)
}

// Follow implements domain.EventStore from the index.
func (s *Store) Follow(ctx context.Context, from uint64, tenant string, handle func(domain.Event) error) error {
	return s.local.Follow(ctx, from, tenant, handle)
}

// FollowRaw follows the index's stored JSON, as the embedded store does.
func (s *Store) FollowRaw(ctx context.Context, from uint64, handle func(raws [][]byte, last uint64) error) error {
	return s.local.FollowRaw(ctx, from, handle)
}

// PurgeTenant removes the tenant's purged history from this node's index;
// EventStoreDB drops it by $maxAge and scavenging.
func (s *Store) PurgeTenant(ctx context.Context, tenant string, upTo uint64) (int, error) {
	return s.local.PurgeTenant(ctx, tenant, upTo)
}

// Append implements domain.EventStore.
//
// An idempotent retry is reported as one when the index already holds the
// events, and when EventStoreDB refuses the expected version of events it
// already has. EventStoreDB may also accept a retry without a word (its
// own idempotence by event id): then the events the index returns are the
// earlier attempt's, and a stored event whose record differs from the one
// given (another attempt's time or payload) is how that shows. A retry
// identical to the byte is indistinguishable from the first write, and
// stores exactly what that write would have.
func (s *Store) Append(ctx context.Context, stream string, expected int64, events []domain.Event) (domain.Appended, error) {
	if err := s.healthy(); err != nil {
		return domain.Appended{}, err
	}
	if len(events) == 0 {
		return domain.Appended{}, fmt.Errorf("append %s: no events", stream)
	}
	if stream == "" || len(stream) > 512 || strings.IndexByte(stream, 0) >= 0 {
		return domain.Appended{}, fmt.Errorf("append: invalid stream name %q", stream)
	}
	stored, dup, err := s.existing(stream, events)
	if err != nil {
		return domain.Appended{}, err
	}
	if dup {
		return domain.Appended{Events: stored, AlreadyStored: true}, nil
	}
	data := make([]esdb.EventData, len(events))
	for i, e := range events {
		if data[i], err = toEventData(e); err != nil {
			return domain.Appended{}, fmt.Errorf("append %s: %w", stream, err)
		}
	}
	res, err := s.client.AppendToStream(ctx, s.o.Namespace+stream, esdb.AppendToStreamOptions{ExpectedRevision: expectedRevision(expected)}, data...)
	if err != nil {
		if isCode(err, esdb.ErrorCodeWrongExpectedVersion) {
			return s.wrongVersion(ctx, stream, expected, events)
		}
		return domain.Appended{}, fmt.Errorf("append %s: %w", stream, serverError(err))
	}
	if first := int64(res.NextExpectedVersion) - int64(len(events)) + 1; first == 0 {
		s.setMaxAge(ctx, stream, events[0].Tenant)
	}
	stored, err = s.awaitIndexed(ctx, stream, events)
	if err != nil {
		return domain.Appended{}, err
	}
	return domain.Appended{Events: stored, AlreadyStored: !sameRecords(stored, events)}, nil
}

// sameRecords reports whether the stored events carry the records given
// (as EventStoreDB holds them: without stream, version and position).
func sameRecords(stored, given []domain.Event) bool {
	for i := range given {
		a, errA := toEventData(stored[i])
		b, errB := toEventData(given[i])
		if errA != nil || errB != nil || !bytes.Equal(a.Data, b.Data) {
			return false
		}
	}
	return true
}

// existing answers an append whose event ids are all in the index on this
// stream (a retry) with the stored events; some ids stored, or stored
// elsewhere, is domain.ErrEventIDReused.
func (s *Store) existing(stream string, events []domain.Event) ([]domain.Event, bool, error) {
	var found []domain.Event
	for _, e := range events {
		if e.ID == "" {
			return nil, false, fmt.Errorf("append %s: event without an id", stream)
		}
		st, ok, err := s.local.EventByID(e.ID)
		if err != nil {
			return nil, false, fmt.Errorf("append %s: %w", stream, err)
		}
		if !ok {
			continue
		}
		if st.Stream != stream {
			return nil, false, fmt.Errorf("append %s: event %s is on stream %s: %w", stream, e.ID, st.Stream, domain.ErrEventIDReused)
		}
		found = append(found, st)
	}
	switch {
	case len(found) == 0:
		return nil, false, nil
	case len(found) != len(events):
		return nil, false, fmt.Errorf("append %s: %d of %d event ids already stored: %w", stream, len(found), len(events), domain.ErrEventIDReused)
	}
	return found, true, nil
}

// wrongVersion turns EventStoreDB's refusal into our WrongVersionError,
// unless the events are already in the stream: an earlier attempt whose
// answer was lost, or another node's identical retry.
func (s *Store) wrongVersion(ctx context.Context, stream string, expected int64, events []domain.Event) (domain.Appended, error) {
	last, ids, err := s.serverStream(ctx, stream)
	if err != nil {
		return domain.Appended{}, err
	}
	all := true
	for _, e := range events {
		if !ids[eventUUID(e.ID)] {
			all = false
		}
	}
	if !all {
		return domain.Appended{}, &domain.WrongVersionError{Stream: stream, Expected: expected, Actual: last}
	}
	stored, err := s.awaitIndexed(ctx, stream, events)
	if err != nil {
		return domain.Appended{}, err
	}
	return domain.Appended{Events: stored, AlreadyStored: true}, nil
}

// serverStream reads the stream from EventStoreDB: its last revision
// (NoStream if none) and its event ids.
func (s *Store) serverStream(ctx context.Context, stream string) (int64, map[uuid.UUID]bool, error) {
	rs, err := s.client.ReadStream(ctx, s.o.Namespace+stream, esdb.ReadStreamOptions{Direction: esdb.Forwards, From: esdb.Start{}}, ^uint64(0))
	if err != nil {
		return 0, nil, fmt.Errorf("read %s: %w", stream, serverError(err))
	}
	defer rs.Close()
	last, ids := domain.NoStream, map[uuid.UUID]bool{}
	for {
		ev, err := rs.Recv()
		switch {
		case errors.Is(err, io.EOF), isCode(err, esdb.ErrorCodeResourceNotFound):
			return last, ids, nil
		case err != nil:
			return 0, nil, fmt.Errorf("read %s: %w", stream, serverError(err))
		}
		rec := ev.OriginalEvent()
		last, ids[rec.EventID] = int64(rec.EventNumber), true
	}
}

// ReadStream implements domain.EventStore: EventStoreDB says how far the
// stream goes, the index (once it got there) gives the events with their
// positions.
func (s *Store) ReadStream(ctx context.Context, stream string) ([]domain.Event, error) {
	if err := s.healthy(); err != nil {
		return nil, err
	}
	last, err := s.lastRevision(ctx, stream)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, s.o.IndexWait)
	defer cancel()
	for {
		changed := s.local.Changed()
		evs, err := s.local.ReadStream(ctx, stream)
		if err != nil {
			return nil, err
		}
		if int64(len(evs))-1 >= last {
			return evs, nil
		}
		if err := s.waitIndex(wctx, changed); err != nil {
			return nil, fmt.Errorf("read %s: revision %d: %w", stream, last, err)
		}
	}
}

// lastRevision is the revision of the stream's last event on the server,
// NoStream if it has none. A missing stream fails on the first Recv, not
// on the read call.
func (s *Store) lastRevision(ctx context.Context, stream string) (int64, error) {
	rs, err := s.client.ReadStream(ctx, s.o.Namespace+stream, esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", stream, serverError(err))
	}
	defer rs.Close()
	ev, err := rs.Recv()
	switch {
	case errors.Is(err, io.EOF), isCode(err, esdb.ErrorCodeResourceNotFound):
		return domain.NoStream, nil
	case err != nil:
		return 0, fmt.Errorf("read %s: %w", stream, serverError(err))
	}
	return int64(ev.OriginalEvent().EventNumber), nil
}

// awaitIndexed waits until the index holds every event of the append and
// returns them as stored. Some of them indexed is not an error here: the
// subscription may deliver one write's events in two batches.
func (s *Store) awaitIndexed(ctx context.Context, stream string, events []domain.Event) ([]domain.Event, error) {
	wctx, cancel := context.WithTimeout(ctx, s.o.IndexWait)
	defer cancel()
	for {
		changed := s.local.Changed()
		stored := make([]domain.Event, 0, len(events))
		for _, e := range events {
			st, ok, err := s.local.EventByID(e.ID)
			if err != nil {
				return nil, fmt.Errorf("append %s: %w", stream, err)
			}
			if !ok {
				break
			}
			if st.Stream != stream {
				return nil, fmt.Errorf("append %s: event %s is on stream %s: %w", stream, e.ID, st.Stream, domain.ErrEventIDReused)
			}
			stored = append(stored, st)
		}
		if len(stored) == len(events) {
			return stored, nil
		}
		if err := s.waitIndex(wctx, changed); err != nil {
			return nil, fmt.Errorf("append %s: %w", stream, err)
		}
	}
}

func (s *Store) waitIndex(ctx context.Context, changed <-chan struct{}) error {
	select {
	case <-changed:
		return s.healthy()
	case <-s.done:
		if err := s.healthy(); err != nil {
			return err
		}
		return domain.ErrStoreClosed
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return ErrNotIndexed
		}
		return ctx.Err()
	}
}

// healthy is the index's failure, if it stopped on one.
func (s *Store) healthy() error {
	if p := s.indexErr.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *Store) setMaxAge(ctx context.Context, stream, tenant string) {
	if s.o.MaxAge == nil {
		return
	}
	if strings.HasPrefix(stream, "hold-") || strings.HasPrefix(stream, "erasure-") {
		return // legal holds and erasure records outlive every retention
	}
	age := s.o.MaxAge(tenant)
	if age <= 0 {
		return
	}
	var md esdb.StreamMetadata
	md.SetMaxAge(age)
	if _, err := s.client.SetStreamMetadata(ctx, s.o.Namespace+stream, esdb.AppendToStreamOptions{}, md); err != nil {
		// retention does not depend on it (the audit projection and
		// PurgeTenant enforce it); scavenging just keeps more for longer
		s.log.Warn("set $maxAge", slog.String("stream", stream), slog.Any("err", err))
	}
}

// expectedRevision maps our expected version to the client's.
func expectedRevision(expected int64) esdb.ExpectedRevision {
	switch {
	case expected == domain.AnyVersion:
		return esdb.Any{}
	case expected == domain.NoStream:
		return esdb.NoStream{}
	default:
		return esdb.Revision(uint64(expected))
	}
}

// eventUUID is the EventStoreDB id of our event id: itself when it is a
// UUID, else a name-based UUID of it, so that the same event always gets
// the same id (the server's idempotence relies on it) and never a random
// one, which a blank EventID would get.
func eventUUID(id string) uuid.UUID {
	if u, err := uuid.Parse(id); err == nil && len(id) == 36 {
		return u
	}
	return uuid.NewSHA1(idSpace, []byte(id))
}

var idSpace = uuid.MustParse("6f1d3c2a-9b8e-4c71-a0d4-5e2f8b7c9a10")

// toEventData is an event as EventStoreDB stores it: our schema v1 JSON
// (stream, version and position are the server's, filled in on reading).
func toEventData(e domain.Event) (esdb.EventData, error) {
	e.Stream, e.StreamVersion, e.Position = "", 0, 0
	b, err := json.Marshal(e)
	if err != nil {
		return esdb.EventData{}, err
	}
	return esdb.EventData{EventID: eventUUID(e.ID), EventType: e.Type(), ContentType: esdb.ContentTypeJson, Data: b}, nil
}

// fromRecorded is a recorded event as ours, with its stream (namespace
// removed) and version; the index gives the position.
func fromRecorded(ns string, rec *esdb.RecordedEvent) (domain.Event, error) {
	var e domain.Event
	if err := json.Unmarshal(rec.Data, &e); err != nil {
		return e, fmt.Errorf("event %s in %s: %w", rec.EventID, rec.StreamID, err)
	}
	if eventUUID(e.ID) != rec.EventID {
		return e, fmt.Errorf("event %s in %s carries event_id %q", rec.EventID, rec.StreamID, e.ID)
	}
	e.Stream, e.StreamVersion, e.Position = strings.TrimPrefix(rec.StreamID, ns), int64(rec.EventNumber), 0
	return e, nil
}

func isCode(err error, code esdb.ErrorCode) bool {
	var e *esdb.Error
	return errors.As(err, &e) && e.Code() == code
}

// serverError marks an unreachable or unready server as unavailable (503
// with Retry-After over HTTP); anything else is returned as it is.
func serverError(err error) error {
	var e *esdb.Error
	if errors.As(err, &e) {
		switch e.Code() {
		case esdb.ErrorUnavailable, esdb.ErrorCodeDeadlineExceeded, esdb.ErrorCodeConnectionClosed, esdb.ErrorCodeNotLeader, esdb.ErrorAborted:
			return fmt.Errorf("eventstoredb: %w: %w", domain.ErrUnavailable, err)
		}
	}
	return err
}

// redact hides a password in a connection string for logs and errors.
func redact(url string) string {
	at := strings.LastIndexByte(url, '@')
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return url
	}
	user := url[scheme+3 : at]
	if i := strings.IndexByte(user, ':'); i >= 0 {
		user = user[:i] + ":xxxxx"
	}
	return url[:scheme+3] + user + url[at:]
}

func formatPosition(p esdb.Position) string {
	return strconv.FormatUint(p.Commit, 10) + " " + strconv.FormatUint(p.Prepare, 10)
}
