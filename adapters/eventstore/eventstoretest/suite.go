// Package eventstoretest is the contract every domain.EventStore adapter
// must pass: call Run from the adapter's tests with a function that opens
// a fresh, empty store, and the capabilities beyond the port that the
// store lacks (a store that has one passes its cases). A new adapter is
// done when Run passes.
package eventstoretest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recallledger/recall/domain"
)

// Open returns a new, empty store for one test; the adapter's test closes
// it in t.Cleanup.
type Open func(t *testing.T) domain.EventStore

// Run runs the contract suite against stores made by open: the port's
// cases, then each capability's (see Capability), except those the store
// lacks, which Run checks it really does.
func Run(t *testing.T, open Open, lacks ...Capability) {
	tests := []contractCase{
		{"append to a new stream with NoStream", appendNoStream},
		{"append with the exact expected version", appendExactVersion},
		{"a wrong expected version is a WrongVersionError and writes nothing", wrongVersion},
		{"AnyVersion appends whatever the stream holds", anyVersion},
		{"several events append atomically and contiguously", atomicBatch},
		{"positions are global, start at 1 and strictly increase", globalPositions},
		{"a retry with the same event ids returns the stored events", idempotentRetry},
		{"of racing twins exactly one append writes, the others are told they retried", racingTwins},
		{"an event id reused elsewhere is refused", reusedEventID},
		{"a missing stream reads as empty", missingStream},
		{"events round-trip exactly", roundTrip},
		{"ReadAll pages from a position", readAllPages},
		{"ReadAll filters by tenant", readAllTenant},
		{"Follow delivers stored then live events in order", followCatchUpThenLive},
		{"Follow filters by tenant and starts anywhere", followTenantFrom},
		{"Follow stops on cancel and on a handler error", followStops},
		{"concurrent appends leave no gaps and lose nothing", concurrentAppends},
		{"Close ends Follow and may be called again", closeIsIdempotent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
	runCapabilities(t, open, lacks)
}

var base = time.Date(2026, 11, 24, 10, 0, 0, 123_000_000, time.UTC)

// Event makes an event of tenant with a fresh id and a small payload.
func Event(t testing.TB, tenant string, n int) domain.Event {
	t.Helper()
	tn, err := domain.ParseTenant(tenant)
	if err != nil {
		t.Fatal(err)
	}
	e, err := domain.NewEvent(uuid.NewString(), tn, base.Add(time.Duration(n)*time.Millisecond), domain.TypeMessageRead,
		domain.MessageRead{MsgID: domain.MsgID(fmt.Sprint("m", n)), Reader: "bob", Platform: "ios"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func events(t testing.TB, tenant string, n int) []domain.Event {
	out := make([]domain.Event, n)
	for i := range out {
		out[i] = Event(t, tenant, i)
	}
	return out
}

// mustAppend appends events that are new: the store must say it wrote them.
func mustAppend(t *testing.T, s domain.EventStore, stream string, expected int64, evs ...domain.Event) []domain.Event {
	t.Helper()
	return appendChecked(t, s, stream, expected, false, evs)
}

// mustRetry appends events whose ids are stored: the store must say so
// and return what it holds.
func mustRetry(t *testing.T, s domain.EventStore, stream string, expected int64, evs ...domain.Event) []domain.Event {
	t.Helper()
	return appendChecked(t, s, stream, expected, true, evs)
}

func appendChecked(t *testing.T, s domain.EventStore, stream string, expected int64, retry bool, evs []domain.Event) []domain.Event {
	t.Helper()
	out, err := s.Append(context.Background(), stream, expected, evs)
	if err != nil {
		t.Fatalf("append %s at %d: %v", stream, expected, err)
	}
	if len(out.Events) != len(evs) {
		t.Fatalf("append returned %d events, want %d", len(out.Events), len(evs))
	}
	if out.AlreadyStored != retry {
		t.Fatalf("append to %s reported AlreadyStored %v, want %v", stream, out.AlreadyStored, retry)
	}
	return out.Events
}

// twin is e again, decided later: same id, another time (a client's retry
// reaches the server after the original).
func twin(e domain.Event, later time.Duration) domain.Event {
	e.OccurredAt = domain.NewTime(e.OccurredAt.Time().Add(later))
	return e
}

func mustRead(t *testing.T, s domain.EventStore, stream string) []domain.Event {
	t.Helper()
	out, err := s.ReadStream(context.Background(), stream)
	if err != nil {
		t.Fatalf("read %s: %v", stream, err)
	}
	return out
}

func appendNoStream(t *testing.T, s domain.EventStore) {
	out := mustAppend(t, s, "message-a/a.1", domain.NoStream, Event(t, "a/a", 1))
	if out[0].Stream != "message-a/a.1" || out[0].StreamVersion != 0 || out[0].Position == 0 {
		t.Fatalf("stored %+v", out[0])
	}
	_, err := s.Append(context.Background(), "message-a/a.1", domain.NoStream, []domain.Event{Event(t, "a/a", 2)})
	var wrong *domain.WrongVersionError
	if !errors.As(err, &wrong) || wrong.Actual != 0 || wrong.Expected != domain.NoStream {
		t.Fatalf("NoStream on an existing stream: %v", err)
	}
}

func appendExactVersion(t *testing.T, s domain.EventStore) {
	mustAppend(t, s, "x-a/a.1", domain.NoStream, Event(t, "a/a", 1))
	out := mustAppend(t, s, "x-a/a.1", 0, Event(t, "a/a", 2))
	out = append(out, mustAppend(t, s, "x-a/a.1", 1, Event(t, "a/a", 3))...)
	if out[0].StreamVersion != 1 || out[1].StreamVersion != 2 {
		t.Fatalf("versions %d %d, want 1 2", out[0].StreamVersion, out[1].StreamVersion)
	}
	if got := mustRead(t, s, "x-a/a.1"); len(got) != 3 {
		t.Fatalf("stream has %d events, want 3", len(got))
	}
}

func wrongVersion(t *testing.T, s domain.EventStore) {
	mustAppend(t, s, "x-a/a.1", domain.NoStream, Event(t, "a/a", 1), Event(t, "a/a", 2))
	head := s.Head()
	for _, expected := range []int64{0, 2, 7} {
		_, err := s.Append(context.Background(), "x-a/a.1", expected, []domain.Event{Event(t, "a/a", 3)})
		var wrong *domain.WrongVersionError
		if !errors.As(fmt.Errorf("wrapped: %w", err), &wrong) {
			t.Fatalf("expected %d: %v, want a WrongVersionError", expected, err)
		}
		if wrong.Actual != 1 || wrong.Expected != expected || wrong.Stream != "x-a/a.1" {
			t.Fatalf("expected %d: %+v", expected, wrong)
		}
	}
	if got := mustRead(t, s, "x-a/a.1"); len(got) != 2 || s.Head() != head {
		t.Fatalf("refused appends wrote: %d events, head %d→%d", len(got), head, s.Head())
	}
}

func anyVersion(t *testing.T, s domain.EventStore) {
	mustAppend(t, s, "x-a/a.1", domain.AnyVersion, Event(t, "a/a", 1))
	out := mustAppend(t, s, "x-a/a.1", domain.AnyVersion, Event(t, "a/a", 2))
	if out[0].StreamVersion != 1 {
		t.Fatalf("version %d, want 1", out[0].StreamVersion)
	}
}

func atomicBatch(t *testing.T, s domain.EventStore) {
	out := mustAppend(t, s, "x-a/a.1", domain.NoStream, events(t, "a/a", 5)...)
	for i, e := range out {
		if e.StreamVersion != int64(i) || (i > 0 && e.Position != out[i-1].Position+1) {
			t.Fatalf("event %d: version %d position %d", i, e.StreamVersion, e.Position)
		}
	}
	// a batch refused for its version leaves nothing behind
	_, err := s.Append(context.Background(), "x-a/a.1", 1, events(t, "a/a", 3))
	if err == nil {
		t.Fatal("stale batch accepted")
	}
	if got := mustRead(t, s, "x-a/a.1"); len(got) != 5 {
		t.Fatalf("stream has %d events after a refused batch, want 5", len(got))
	}
}

func globalPositions(t *testing.T, s domain.EventStore) {
	if s.Head() != 0 {
		t.Fatalf("empty store head %d", s.Head())
	}
	var last uint64
	for i := range 6 {
		out := mustAppend(t, s, fmt.Sprint("x-a/a.", i%3), domain.AnyVersion, Event(t, "a/a", i))
		if i == 0 && out[0].Position != 1 {
			t.Fatalf("first position %d, want 1", out[0].Position)
		}
		if out[0].Position != last+1 {
			t.Fatalf("position %d after %d", out[0].Position, last)
		}
		last = out[0].Position
	}
	if s.Head() != last {
		t.Fatalf("head %d, want %d", s.Head(), last)
	}
}

func idempotentRetry(t *testing.T, s domain.EventStore) {
	evs := events(t, "a/a", 2)
	first := mustAppend(t, s, "x-a/a.1", domain.NoStream, evs...)
	mustAppend(t, s, "x-a/a.1", 1, Event(t, "a/a", 9))
	// the retry carries the stale expected version of the first try
	again := mustRetry(t, s, "x-a/a.1", domain.NoStream, evs...)
	for i := range first {
		if again[i].Position != first[i].Position || again[i].ID != first[i].ID {
			t.Fatalf("retry returned %+v, want %+v", again[i], first[i])
		}
	}
	// a retry decided later gets the original back, time included
	later := mustRetry(t, s, "x-a/a.1", domain.NoStream, twin(evs[0], time.Second), twin(evs[1], time.Second))
	for i := range first {
		if later[i].Position != first[i].Position || later[i].OccurredAt != first[i].OccurredAt {
			t.Fatalf("later retry returned %+v, want the original %+v", later[i], first[i])
		}
	}
	if got := mustRead(t, s, "x-a/a.1"); len(got) != 3 {
		t.Fatalf("stream has %d events after a retry, want 3", len(got))
	}
}

func racingTwins(t *testing.T, s domain.EventStore) {
	const n = 8
	e := Event(t, "a/a", 1)
	outs := make([]domain.Appended, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			outs[i], errs[i] = s.Append(context.Background(), "x-a/a.twins", domain.NoStream, []domain.Event{twin(e, time.Duration(i)*time.Millisecond)})
		}()
	}
	close(start)
	wg.Wait()
	wrote := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("twin %d: %v", i, errs[i])
		}
		if !outs[i].AlreadyStored {
			wrote++
		}
		if outs[i].Events[0].Position != outs[0].Events[0].Position {
			t.Fatalf("twin %d stored at %d, twin 0 at %d", i, outs[i].Events[0].Position, outs[0].Events[0].Position)
		}
	}
	if wrote != 1 {
		t.Fatalf("%d of %d racing twins reported writing, want exactly 1", wrote, n)
	}
	if got := mustRead(t, s, "x-a/a.twins"); len(got) != 1 {
		t.Fatalf("stream has %d events, want 1", len(got))
	}
}

func reusedEventID(t *testing.T, s domain.EventStore) {
	e := Event(t, "a/a", 1)
	mustAppend(t, s, "x-a/a.1", domain.NoStream, e)
	if _, err := s.Append(context.Background(), "x-a/a.2", domain.AnyVersion, []domain.Event{e}); err == nil {
		t.Fatal("an event id reused on another stream was accepted")
	}
	if _, err := s.Append(context.Background(), "x-a/a.1", domain.AnyVersion, []domain.Event{e, Event(t, "a/a", 2)}); err == nil {
		t.Fatal("a stored id mixed with a new one was accepted")
	}
	if got := mustRead(t, s, "x-a/a.2"); len(got) != 0 {
		t.Fatalf("refused append created a stream of %d events", len(got))
	}
}

func missingStream(t *testing.T, s domain.EventStore) {
	got, err := s.ReadStream(context.Background(), "x-a/a.nothing")
	if err != nil || len(got) != 0 {
		t.Fatalf("missing stream: %v, %d events", err, len(got))
	}
}

func roundTrip(t *testing.T, s domain.EventStore) {
	e := Event(t, "a/a", 7)
	stored := mustAppend(t, s, "x-a/a.1", domain.NoStream, e)[0]
	for name, got := range map[string]domain.Event{"stream": mustRead(t, s, "x-a/a.1")[0], "all": readAll(t, s, 0, "", 10)[0]} {
		if got.ID != e.ID || got.Type != e.Type || got.SchemaVersion != 1 || got.Tenant != "a/a" ||
			got.Stream != "x-a/a.1" || got.StreamVersion != 0 || got.Position != stored.Position ||
			got.OccurredAt != e.OccurredAt || got.OccurredAt.UnixMilli() != base.Add(7*time.Millisecond).UnixMilli() ||
			string(got.Data) != string(e.Data) {
			t.Fatalf("%s read %+v, want %+v", name, got, e)
		}
	}
}

func readAll(t *testing.T, s domain.EventStore, from uint64, tenant string, limit int) []domain.Event {
	t.Helper()
	out, err := s.ReadAll(context.Background(), from, tenant, limit)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readAllPages(t *testing.T, s domain.EventStore) {
	for i := range 10 {
		mustAppend(t, s, fmt.Sprint("x-a/a.", i), domain.NoStream, Event(t, "a/a", i))
	}
	if got := readAll(t, s, 0, "", 100); len(got) != 10 || got[0].Position != 1 {
		t.Fatalf("from 0: %d events", len(got))
	}
	page := readAll(t, s, 4, "", 3)
	if len(page) != 3 || page[0].Position != 4 || page[2].Position != 6 {
		t.Fatalf("page from 4 limit 3: %v", positions(page))
	}
	if got := readAll(t, s, 11, "", 5); len(got) != 0 {
		t.Fatalf("past the head: %d events", len(got))
	}
}

func readAllTenant(t *testing.T, s domain.EventStore) {
	for i := range 9 {
		tenant := []string{"a/a", "b/b", "a/aa"}[i%3]
		mustAppend(t, s, "x-"+tenant+fmt.Sprint(".", i), domain.NoStream, Event(t, tenant, i))
	}
	got := readAll(t, s, 0, "a/a", 100)
	if len(got) != 3 {
		t.Fatalf("tenant a/a: %d events, want 3 (a/aa is another tenant)", len(got))
	}
	for i, e := range got {
		if e.Tenant != "a/a" || (i > 0 && e.Position <= got[i-1].Position) {
			t.Fatalf("tenant a/a: %v", positions(got))
		}
	}
	if got := readAll(t, s, got[1].Position, "a/a", 1); len(got) != 1 || got[0].Position != 4 {
		t.Fatalf("tenant page: %v", positions(got))
	}
}

func positions(evs []domain.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Position
	}
	return out
}

// collector gathers followed events and signals when it has n.
type collector struct {
	mu   sync.Mutex
	got  []domain.Event
	want int
	full chan struct{}
}

func newCollector(n int) *collector { return &collector{want: n, full: make(chan struct{})} }

func (c *collector) handle(e domain.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, e)
	if len(c.got) == c.want {
		close(c.full)
	}
	return nil
}

func (c *collector) wait(t *testing.T) []domain.Event {
	t.Helper()
	select {
	case <-c.full:
	case <-time.After(10 * time.Second):
		c.mu.Lock()
		defer c.mu.Unlock()
		t.Fatalf("followed %d events in 10 s, want %d", len(c.got), c.want)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]domain.Event(nil), c.got...)
}

func followCatchUpThenLive(t *testing.T, s domain.EventStore) {
	for i := range 700 { // more than one read chunk
		mustAppend(t, s, fmt.Sprint("x-a/a.", i%50), domain.AnyVersion, Event(t, "a/a", i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := newCollector(720)
	done := make(chan error, 1)
	go func() { done <- s.Follow(ctx, 0, "", c.handle) }()
	for i := range 20 {
		mustAppend(t, s, "x-a/a.live", domain.AnyVersion, Event(t, "a/a", 1000+i))
	}
	got := c.wait(t)
	for i, e := range got {
		if e.Position != uint64(i+1) {
			t.Fatalf("followed event %d has position %d", i, e.Position)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow returned %v after cancel", err)
	}
}

func followTenantFrom(t *testing.T, s domain.EventStore) {
	for i := range 10 {
		mustAppend(t, s, fmt.Sprint("x.", i), domain.NoStream, Event(t, []string{"a/a", "b/b"}[i%2], i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := newCollector(4) // a/a's events at positions 5, 7, 9, then one live
	go func() { _ = s.Follow(ctx, 4, "a/a", c.handle) }()
	mustAppend(t, s, "x.b", domain.NoStream, Event(t, "b/b", 20))
	live := mustAppend(t, s, "x.a", domain.NoStream, Event(t, "a/a", 21))
	got := c.wait(t)
	want := []uint64{5, 7, 9, live[0].Position}
	if fmt.Sprint(positions(got)) != fmt.Sprint(want) {
		t.Fatalf("followed %v, want %v", positions(got), want)
	}
}

func followStops(t *testing.T, s domain.EventStore) {
	mustAppend(t, s, "x.1", domain.NoStream, events(t, "a/a", 3)...)
	boom := errors.New("boom")
	n := 0
	err := s.Follow(context.Background(), 0, "", func(domain.Event) error {
		n++
		if n == 2 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 2 {
		t.Fatalf("Follow returned %v after %d events, want boom after 2", err, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Follow(ctx, 100, "", func(domain.Event) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Follow with nothing to read returned %v, want the context's error", err)
	}
}

func concurrentAppends(t *testing.T, s domain.EventStore) {
	const writers, perWriter = 32, 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]uint64{}
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				stream := fmt.Sprint("x-a/a.own", w)
				if i%2 == 0 {
					stream = "x-a/a.shared" // contended: optimistic retry
				}
				e := Event(t, "a/a", w*1000+i)
				for {
					cur := mustRead(t, s, stream)
					out, err := s.Append(context.Background(), stream, int64(len(cur))-1, []domain.Event{e})
					var wrong *domain.WrongVersionError
					if errors.As(err, &wrong) {
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					acked[e.ID] = out.Events[0].Position
					mu.Unlock()
					break
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all := readAll(t, s, 0, "", writers*perWriter+10)
	if len(all) != writers*perWriter {
		t.Fatalf("%d events stored, want %d", len(all), writers*perWriter)
	}
	for i, e := range all {
		if e.Position != uint64(i+1) {
			t.Fatalf("gap: event %d at position %d", i, e.Position)
		}
		if acked[e.ID] != e.Position {
			t.Fatalf("event %s at %d, acknowledged at %d", e.ID, e.Position, acked[e.ID])
		}
	}
	shared := mustRead(t, s, "x-a/a.shared")
	for i, e := range shared {
		if e.StreamVersion != int64(i) {
			t.Fatalf("shared stream version %d at index %d", e.StreamVersion, i)
		}
	}
	if len(shared) != writers*perWriter/2 {
		t.Fatalf("shared stream has %d events, want %d", len(shared), writers*perWriter/2)
	}
}

// closeIsIdempotent: every store has a visible lifecycle. Close ends a
// Follow in progress; a second Close (a deferred one after an explicit
// one, say) returns what the first did instead of failing or panicking.
func closeIsIdempotent(t *testing.T, s domain.EventStore) {
	c, ok := s.(io.Closer)
	if !ok {
		t.Fatalf("%T has no Close: a store must say when it has released what it holds", s)
	}
	mustAppend(t, s, "x-a/a.1", domain.NoStream, Event(t, "a/a", 1))
	followed := make(chan error, 1)
	delivered := make(chan struct{}, 1)
	go func() {
		followed <- s.Follow(context.Background(), 1, "", func(domain.Event) error {
			select {
			case delivered <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	select {
	case <-delivered:
	case <-time.After(10 * time.Second):
		t.Fatal("Follow delivered nothing in 10 s")
	}
	first := c.Close()
	if first != nil {
		t.Fatalf("close: %v", first)
	}
	if err := c.Close(); err != first {
		t.Fatalf("second close: %v, want what the first returned (%v)", err, first)
	}
	select {
	case err := <-followed:
		if err == nil {
			t.Fatal("Follow returned nil after Close; want an error saying the store closed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Follow still running 10 s after Close")
	}
}
