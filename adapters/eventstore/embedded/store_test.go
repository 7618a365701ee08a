package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/google/uuid"

	"github.com/recallledger/recall/adapters/eventstore/eventstoretest"
	"github.com/recallledger/recall/adapters/pebblelog"
	"github.com/recallledger/recall/domain"
)

func openTemp(t *testing.T) domain.EventStore {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestContract(t *testing.T) { eventstoretest.Run(t, openTemp) }

func TestReopenKeepsEverythingAndContinues(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	originals := []domain.Event{eventstoretest.Event(t, "a/a", 1), eventstoretest.Event(t, "a/a", 2)}
	if _, err := s.Append(ctx, "x-a/a.1", domain.NoStream, originals); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "x-a/a.1", 1, []domain.Event{eventstoretest.Event(t, "a/a", 3)}); !errors.Is(err, domain.ErrStoreClosed) {
		t.Fatalf("append after close: %v", err)
	}

	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Head() != 2 {
		t.Fatalf("head after reopen %d, want 2", s.Head())
	}
	// the idempotency index survives too
	again, err := s.Append(ctx, "x-a/a.1", domain.NoStream, originals)
	if err != nil || !again.AlreadyStored || again.Events[1].Position != 2 {
		t.Fatalf("retry after reopen: %v %+v", err, again)
	}
	next, err := s.Append(ctx, "x-a/a.1", 1, []domain.Event{eventstoretest.Event(t, "a/a", 3)})
	if err != nil {
		t.Fatal(err)
	}
	if next.Events[0].Position != 3 || next.Events[0].StreamVersion != 2 {
		t.Fatalf("after reopen: position %d version %d, want 3 and 2", next.Events[0].Position, next.Events[0].StreamVersion)
	}
}

func TestSecondOpenOfALiveDirectoryIsRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s2, err := Open(dir); err == nil {
		s2.Close()
		t.Fatal("a second store opened the same directory")
	}
}

func TestUnwritableDirectoryIsAClearError(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores permissions; use a path under a file instead
		f := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(filepath.Join(f, "events")); err == nil {
			t.Fatal("opened a store under a regular file")
		}
		return
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(dir, "events")); err == nil {
		t.Fatal("opened a store in an unwritable directory")
	}
}

var eventTime = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// benchEvent is a ~300-byte event like a real send.
func benchEvent(tn domain.Tenant, i int) domain.Event {
	e, _ := domain.NewEvent(uuid.NewString(), tn, eventTime, domain.TypeMessageSent, domain.MessageSent{
		MsgID: domain.MsgID(fmt.Sprint("m", i)), ConversationID: "chat:alice:bob", ChatType: "chat",
		From: "alice", To: "bob", MsgType: "txt", Content: "see you at the station at nine, bring the tickets",
		ContentSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Platform: "ios",
	})
	return e
}

// BenchmarkAppend measures durable single-event appends, each to its own
// stream, at concurrency 1 and 64 (group commit shares the fsyncs).
func BenchmarkAppend(b *testing.B) {
	for _, conc := range []int{1, 64} {
		b.Run(fmt.Sprint("concurrency=", conc), func(b *testing.B) {
			s, err := Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			tn, _ := domain.ParseTenant("bench/app")
			writers(b, conc, func(i int) error {
				stream := fmt.Sprint("message-bench/app.", i)
				_, err := s.Append(context.Background(), stream, domain.NoStream, []domain.Event{benchEvent(tn, i)})
				return err
			})
		})
	}
}

// BenchmarkRawPebble is the baseline: the same number of synced writes of
// a value of the same size straight to pebble, with no ledger logic (no
// versions, no indexes, no JSON).
func BenchmarkRawPebble(b *testing.B) {
	for _, conc := range []int{1, 64} {
		b.Run(fmt.Sprint("concurrency=", conc), func(b *testing.B) {
			db, err := pebble.Open(b.TempDir(), &pebble.Options{Logger: pebblelog.Logger{Store: "baseline"}})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			value := make([]byte, 316)
			writers(b, conc, func(i int) error { return db.Set(eventKey(uint64(i)), value, pebble.Sync) })
		})
	}
}

// writers runs write(i) for i = 1…b.N on conc goroutines, each taking the
// next i when done with its last, and reports the rate in events/s.
func writers(b *testing.B, conc int, write func(i int) error) {
	var n atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range conc {
		wg.Go(func() {
			for {
				i := int(n.Add(1))
				if i > b.N {
					return
				}
				if err := write(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestTornTailIsRecovered simulates a crash in the middle of writing the
// log: garbage after the last synced record of the newest WAL file. The
// store reopens with every acknowledged event and keeps appending.
func TestTornTailIsRecovered(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 50 {
		if _, err := s.Append(ctx, fmt.Sprint("x-a/a.", i), domain.NoStream, []domain.Event{eventstoretest.Event(t, "a/a", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no WAL file: %v %v", logs, err)
	}
	newest := logs[len(logs)-1]
	f, err := os.OpenFile(newest, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn := make([]byte, 1000)
	for i := range torn {
		torn[i] = byte(i * 7)
	}
	if _, err := f.Write(torn); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s, err = Open(dir)
	if err != nil {
		t.Fatalf("reopen after a torn tail: %v", err)
	}
	defer s.Close()
	if s.Head() != 50 {
		t.Fatalf("head %d after a torn tail, want 50", s.Head())
	}
	evs, err := s.ReadAll(ctx, 0, "", 100)
	if err != nil || len(evs) != 50 {
		t.Fatalf("read back %d events: %v", len(evs), err)
	}
	if out, err := s.Append(ctx, "x-a/a.next", domain.NoStream, []domain.Event{eventstoretest.Event(t, "a/a", 99)}); err != nil || out.Events[0].Position != 51 {
		t.Fatalf("append after recovery: %v %+v", err, out)
	}
}

func TestFollowRawHandsOverTheStoredJSON(t *testing.T) {
	s := openTemp(t).(*Store)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 3 {
		if _, err := s.Append(ctx, fmt.Sprint("x-a/a.", i), domain.NoStream, []domain.Event{eventstoretest.Event(t, "a/a", i)}); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := s.ReadAll(ctx, 2, "", 10)
	var got []domain.Event
	done := make(chan error, 1)
	go func() {
		done <- s.FollowRaw(ctx, 2, func(raws [][]byte, last uint64) error {
			for _, raw := range raws {
				var e domain.Event
				if err := json.Unmarshal(raw, &e); err != nil {
					return err
				}
				got = append(got, e)
			}
			if got[len(got)-1].Position != last {
				return fmt.Errorf("chunk ends at %d, last says %d", got[len(got)-1].Position, last)
			}
			if len(got) == 3 {
				cancel()
			}
			return nil
		})
	}()
	if _, err := s.Append(context.Background(), "x-a/a.live", domain.NoStream, []domain.Event{eventstoretest.Event(t, "a/a", 9)}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != want[0].ID || got[1].ID != want[1].ID || got[2].Position != 4 {
		t.Fatalf("followed %+v", got)
	}
}

// Racing appends of one event id: to one stream they are retries (one
// event stored, every caller gets it), to different streams one wins and
// the rest are refused. Callers look ids up before the committer, so this
// is what catches a lookup that missed a group applied meanwhile.
func TestRacingAppendsOfOneEventID(t *testing.T) {
	s := openTemp(t).(*Store)
	ctx := context.Background()
	for round := range 30 {
		e := eventstoretest.Event(t, "a/a", round)
		var wg sync.WaitGroup
		var ok, refused atomic.Int64
		var mu sync.Mutex
		positions := map[uint64]bool{}
		for w := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stream := fmt.Sprint("x-a/a.same", round)
				if w%2 == 1 {
					stream = fmt.Sprint("x-a/a.other", round, "-", w)
				}
				out, err := s.Append(ctx, stream, domain.AnyVersion, []domain.Event{e})
				switch {
				case errors.Is(err, domain.ErrEventIDReused):
					refused.Add(1)
				case err != nil:
					t.Error(err)
				default:
					ok.Add(1)
					mu.Lock()
					positions[out.Events[0].Position] = true
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(positions) != 1 || ok.Load()+refused.Load() != 32 {
			t.Fatalf("round %d: stored at %v, %d ok, %d refused", round, positions, ok.Load(), refused.Load())
		}
	}
	all, err := s.ReadAll(ctx, 1, "", 1000)
	if err != nil || len(all) != 30 {
		t.Fatalf("%d events stored for 30 ids: %v", len(all), err)
	}
}
