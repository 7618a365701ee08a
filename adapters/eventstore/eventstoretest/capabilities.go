package eventstoretest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/recallledger/recall/domain"
)

// Capability is one of the store capabilities beyond domain.EventStore
// that domain declares (domain.RawFollower, …). Run checks every store for
// each: a store that has it passes its cases; a store that lacks it must
// say so, by passing the capability to Run, and Run then checks that it
// really lacks it.
type Capability struct {
	name  string
	has   func(domain.EventStore) bool
	cases []contractCase
}

type contractCase struct {
	name string
	fn   func(*testing.T, domain.EventStore)
}

// The capabilities, named as their interfaces in domain.
var (
	RawFollower = Capability{"domain.RawFollower", implements[domain.RawFollower], []contractCase{
		{"FollowRaw hands over the stored JSON in position order, chunk by chunk, then live", followRawCatchUpThenLive},
		{"FollowRaw starts anywhere and stops on a handler error", followRawFromAndStops},
	}}
	TenantPurger = Capability{"domain.TenantPurger", implements[domain.TenantPurger], []contractCase{
		{"PurgeTenant removes the tenant's history up to a position, keeping its policy and other tenants", purgeTenant},
	}}
	OrderedAppender = Capability{"domain.OrderedAppender", implements[domain.OrderedAppender], []contractCase{
		{"AppendInOrder keeps the order of the writes and reports the first refused", appendInOrder},
	}}
	EventLookup = Capability{"domain.EventLookup", implements[domain.EventLookup], []contractCase{
		{"EventByID finds a durable event and reports an unknown id", eventByID},
	}}
	ChangeWatcher = Capability{"domain.ChangeWatcher", implements[domain.ChangeWatcher], []contractCase{
		{"Changed is closed once new events are durable", changed},
	}}
	StreamSnapshots = Capability{"domain.StreamSnapshots", implements[domain.StreamSnapshots], []contractCase{
		{"a stream without a snapshot is read whole", snapshotAbsent},
		{"a saved snapshot comes back with the events after it", snapshotAndTail},
		{"a snapshot that does not match its stream is not handed out", snapshotMismatch},
	}}
)

// capabilities lists every Capability, so that Run checks each store for
// all of them.
var capabilities = []Capability{RawFollower, TenantPurger, OrderedAppender, EventLookup, ChangeWatcher, StreamSnapshots}

func implements[T any](s domain.EventStore) bool {
	_, ok := s.(T)
	return ok
}

// runCapabilities runs each capability's cases against stores made by
// open, or checks that the store lacks it as its test says.
func runCapabilities(t *testing.T, open Open, lacks []Capability) {
	for _, c := range capabilities {
		lacking := slices.ContainsFunc(lacks, func(l Capability) bool { return l.name == c.name })
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			switch has := c.has(s); {
			case has && lacking:
				t.Fatalf("%T says it lacks %s but has it: stop saying so, and its cases run", s, c.name)
			case !has && !lacking:
				t.Fatalf("%T lacks %s: give it one, or say so in its test (pass eventstoretest.%s to Run)", s, c.name, c.name[len("domain."):])
			case lacking:
				t.Logf("%T lacks %s, as its test says", s, c.name)
				return
			}
			for i, tc := range c.cases {
				t.Run(tc.name, func(t *testing.T) {
					if i > 0 {
						s = open(t)
					}
					tc.fn(t, s)
				})
			}
		})
	}
}

// rawFollower collects what a FollowRaw hands over: the events its raw
// JSON decodes to, and the last position of each chunk.
type rawFollower struct {
	mu     sync.Mutex
	events []domain.Event
	lasts  []uint64
	done   chan error
}

// startFollowRaw runs FollowRaw from from until ctx ends.
func startFollowRaw(s domain.EventStore, ctx context.Context, from uint64) *rawFollower {
	f := &rawFollower{done: make(chan error, 1)}
	go func() {
		f.done <- s.(domain.RawFollower).FollowRaw(ctx, from, func(raws [][]byte, last uint64) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, raw := range raws {
				var e domain.Event
				if err := json.Unmarshal(raw, &e); err != nil {
					return fmt.Errorf("raw event %q: %w", raw, err)
				}
				f.events = append(f.events, e)
			}
			f.lasts = append(f.lasts, last)
			return nil
		})
	}()
	return f
}

// wait returns the events and chunk ends once n events came.
func (f *rawFollower) wait(t *testing.T, n int) ([]domain.Event, []uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		got, lasts := slices.Clone(f.events), slices.Clone(f.lasts)
		f.mu.Unlock()
		if len(got) >= n {
			return got, lasts
		}
		select {
		case err := <-f.done:
			t.Fatalf("FollowRaw returned %v after %d events, want %d", err, len(got), n)
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("FollowRaw handed over %d events in 10 s, want %d", len(got), n)
		}
	}
}

func followRawCatchUpThenLive(t *testing.T, s domain.EventStore) {
	for i := range 700 { // more than one chunk
		mustAppend(t, s, fmt.Sprint("x-a/a.", i%50), domain.AnyVersion, Event(t, "a/a", i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := startFollowRaw(s, ctx, 1)
	mustAppend(t, s, "x-a/a.live", domain.NoStream, Event(t, "a/a", 1000))
	got, lasts := f.wait(t, 701)
	want := readAll(t, s, 0, "", 1000)
	if len(got) != len(want) {
		t.Fatalf("FollowRaw handed over %d events, the log holds %d", len(got), len(want))
	}
	for i, e := range got {
		if e.ID != want[i].ID || e.Position != want[i].Position || e.Stream != want[i].Stream || !reflect.DeepEqual(e.Data, want[i].Data) {
			t.Fatalf("raw event %d is %+v, ReadAll has %+v", i, e, want[i])
		}
	}
	if len(lasts) < 2 || !slices.IsSorted(lasts) || lasts[len(lasts)-1] != 701 {
		t.Fatalf("chunks end at %v: want more than one, in order, the last at 701", lasts)
	}
	cancel()
	if err := <-f.done; !errors.Is(err, context.Canceled) {
		t.Fatalf("FollowRaw returned %v after cancel", err)
	}
}

func followRawFromAndStops(t *testing.T, s domain.EventStore) {
	for i := range 10 {
		mustAppend(t, s, fmt.Sprint("x-a/a.", i), domain.NoStream, Event(t, []string{"a/a", "b/b"}[i%2], i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if got, _ := startFollowRaw(s, ctx, 7).wait(t, 4); fmt.Sprint(positions(got)) != "[7 8 9 10]" {
		t.Fatalf("from 7: %v", positions(got))
	}
	boom := errors.New("boom")
	err := s.(domain.RawFollower).FollowRaw(context.Background(), 3, func([][]byte, uint64) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("FollowRaw returned %v, want the handler's error", err)
	}
}

func purgeTenant(t *testing.T, s domain.EventStore) {
	p := s.(domain.TenantPurger)
	for i := range 12 {
		tenant, stream := []string{"a/a", "b/b", "a/a"}[i%3], fmt.Sprint("message-x.", i)
		if i%3 == 2 {
			// a/a's policy history, legal holds and an erasure's record: kept
			stream = []string{"tenant-a/a", "hold-a/a", "erasure-a/a.e1", "tenant-a/a"}[i/3]
		}
		mustAppend(t, s, stream, domain.AnyVersion, Event(t, tenant, i))
	}
	ctx := context.Background()
	// a/a holds positions 1, 3, 4, 6, 7, 9, 10, 12; 3, 6, 9, 12 its policy,
	// holds and erasure
	n, err := p.PurgeTenant(ctx, "a/a", 7)
	if err != nil || n != 3 {
		t.Fatalf("purge a/a up to 7: removed %d (%v), want 3 (positions 1, 4, 7)", n, err)
	}
	if got := fmt.Sprint(positions(readAll(t, s, 0, "a/a", 100))); got != "[3 6 9 10 12]" {
		t.Fatalf("a/a after the purge: %v, want its policy, hold and erasure events and what came after 7", got)
	}
	if got := len(readAll(t, s, 0, "b/b", 100)); got != 4 {
		t.Fatalf("b/b after a/a's purge: %d events, want its 4", got)
	}
	if n, err := p.PurgeTenant(ctx, "a/a", 7); err != nil || n != 0 {
		t.Fatalf("purging again up to 7 removed %d (%v), want 0", n, err)
	}
	if out := mustAppend(t, s, "message-x.next", domain.NoStream, Event(t, "a/a", 99)); out[0].Position != 13 {
		t.Fatalf("append after a purge at %d, want 13: positions never go back", out[0].Position)
	}
}

func appendInOrder(t *testing.T, s domain.EventStore) {
	o := s.(domain.OrderedAppender)
	ctx := context.Background()
	var writes []domain.StreamWrite
	for i := range 300 {
		writes = append(writes, domain.StreamWrite{Stream: fmt.Sprint("x-a/a.", i%7), Expected: domain.AnyVersion,
			Events: []domain.Event{Event(t, "a/a", i)}})
	}
	out, err := o.AppendInOrder(ctx, writes)
	if err != nil {
		t.Fatal(err)
	}
	for i, evs := range out {
		if evs[0].Position != uint64(i+1) || evs[0].ID != writes[i].Events[0].ID {
			t.Fatalf("write %d stored at %d", i, evs[0].Position)
		}
	}
	// a refused write is reported and the writes before it stay
	_, err = o.AppendInOrder(ctx, []domain.StreamWrite{
		{Stream: "x-a/a.new", Expected: domain.NoStream, Events: []domain.Event{Event(t, "a/a", 1000)}},
		{Stream: "x-a/a.0", Expected: 0, Events: []domain.Event{Event(t, "a/a", 1001)}},
	})
	var wrong *domain.WrongVersionError
	if !errors.As(err, &wrong) || s.Head() != 301 {
		t.Fatalf("stale write: %v, head %d", err, s.Head())
	}
}

func eventByID(t *testing.T, s domain.EventStore) {
	l := s.(domain.EventLookup)
	var evs []domain.Event
	for i := range 5 {
		evs = append(evs, mustAppend(t, s, fmt.Sprint("x-a/a.", i%2), domain.AnyVersion, Event(t, "a/a", i))...)
	}
	got, found, err := l.EventByID(evs[3].ID)
	if err != nil || !found || got.Position != 4 || got.Stream != "x-a/a.1" || got.StreamVersion != 1 {
		t.Fatalf("EventByID: %v %v %+v", err, found, got)
	}
	if _, found, err := l.EventByID("nope"); found || err != nil {
		t.Fatalf("EventByID of an unknown id: %v %v", found, err)
	}
}

func changed(t *testing.T, s domain.EventStore) {
	w := s.(domain.ChangeWatcher)
	ch := w.Changed()
	select {
	case <-ch:
		t.Fatal("Changed was closed before anything changed")
	default:
	}
	mustAppend(t, s, "x-a/a.1", domain.NoStream, Event(t, "a/a", 1))
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("Changed was not closed by a durable append")
	}
}

// readSnapshot reads stream's snapshot and the events after it.
func readSnapshot(t *testing.T, s domain.EventStore, stream string) (domain.Snapshot, []domain.Event) {
	t.Helper()
	snap, evs, err := s.(domain.StreamSnapshots).ReadStreamSnapshot(context.Background(), stream)
	if err != nil {
		t.Fatalf("ReadStreamSnapshot %s: %v", stream, err)
	}
	return snap, evs
}

func saveSnapshot(t *testing.T, s domain.EventStore, stream string, snap domain.Snapshot) {
	t.Helper()
	if err := s.(domain.StreamSnapshots).SaveSnapshot(context.Background(), stream, snap); err != nil {
		t.Fatalf("SaveSnapshot %s: %v", stream, err)
	}
}

func snapshotAbsent(t *testing.T, s domain.EventStore) {
	if snap, evs := readSnapshot(t, s, "message-a/a.none"); snap.Version != domain.NoStream || len(evs) != 0 {
		t.Fatalf("a stream that does not exist: %+v, %d events", snap, len(evs))
	}
	stored := mustAppend(t, s, "message-a/a.1", domain.NoStream, events(t, "a/a", 3)...)
	snap, evs := readSnapshot(t, s, "message-a/a.1")
	if snap.Version != domain.NoStream || len(evs) != 3 || evs[0].ID != stored[0].ID || evs[2].StreamVersion != 2 {
		t.Fatalf("no snapshot: %+v, %v; want every event", snap, evs)
	}
}

func snapshotAndTail(t *testing.T, s domain.EventStore) {
	stored := mustAppend(t, s, "message-a/a.1", domain.NoStream, events(t, "a/a", 4)...)
	mustAppend(t, s, "message-a/a.2", domain.NoStream, Event(t, "a/a", 9)) // another stream
	saveSnapshot(t, s, "message-a/a.1", domain.Snapshot{Version: 1, EventID: stored[1].ID, State: []byte(`{"n":2}`)})
	snap, evs := readSnapshot(t, s, "message-a/a.1")
	if snap.Version != 1 || snap.EventID != stored[1].ID || string(snap.State) != `{"n":2}` {
		t.Fatalf("snapshot %+v, want the one saved at version 1", snap)
	}
	if len(evs) != 2 || evs[0].ID != stored[2].ID || evs[1].ID != stored[3].ID {
		t.Fatalf("events after the snapshot: %v, want versions 2 and 3", evs)
	}
	// a newer one replaces it; the stream grows past it
	saveSnapshot(t, s, "message-a/a.1", domain.Snapshot{Version: 3, EventID: stored[3].ID, State: []byte(`{"n":4}`)})
	more := mustAppend(t, s, "message-a/a.1", 3, Event(t, "a/a", 5))
	snap, evs = readSnapshot(t, s, "message-a/a.1")
	if snap.Version != 3 || string(snap.State) != `{"n":4}` || len(evs) != 1 || evs[0].ID != more[0].ID {
		t.Fatalf("after a newer snapshot and one more event: %+v, %v", snap, evs)
	}
	if snap, evs := readSnapshot(t, s, "message-a/a.2"); snap.Version != domain.NoStream || len(evs) != 1 {
		t.Fatalf("the other stream: %+v, %d events", snap, len(evs))
	}
}

func snapshotMismatch(t *testing.T, s domain.EventStore) {
	stored := mustAppend(t, s, "message-a/a.1", domain.NoStream, events(t, "a/a", 3)...)
	for name, snap := range map[string]domain.Snapshot{
		"another event's id":    {Version: 1, EventID: stored[2].ID, State: []byte(`{}`)},
		"an unknown id":         {Version: 1, EventID: "no-such-event", State: []byte(`{}`)},
		"past the stream's end": {Version: 7, EventID: stored[2].ID, State: []byte(`{}`)},
	} {
		saveSnapshot(t, s, "message-a/a.1", snap)
		got, evs := readSnapshot(t, s, "message-a/a.1")
		if got.Version != domain.NoStream || len(evs) != 3 {
			t.Errorf("%s: handed out %+v with %d events; want no snapshot and the whole stream", name, got, len(evs))
		}
	}
	if _, ok := s.(domain.TenantPurger); !ok {
		return
	}
	saveSnapshot(t, s, "message-a/a.1", domain.Snapshot{Version: 2, EventID: stored[2].ID, State: []byte(`{}`)})
	if _, err := s.(domain.TenantPurger).PurgeTenant(context.Background(), "a/a", stored[2].Position); err != nil {
		t.Fatal(err)
	}
	if got, evs := readSnapshot(t, s, "message-a/a.1"); got.Version != domain.NoStream || len(evs) != 0 {
		t.Fatalf("after the purge: %+v with %d events; the snapshot of a purged stream must go with it", got, len(evs))
	}
}
