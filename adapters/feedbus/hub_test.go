package feedbus

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/feedbus/feedbustest"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
)

// recorder is a projection that remembers the batches it was handed: the
// events (by identity of the decoded slice) and the stored JSON.
type recorder struct {
	name string

	mu      sync.Mutex
	applied []uint64
	stored  map[uint64][]byte
}

func newRecorder(name string) *recorder { return &recorder{name: name, stored: map[uint64][]byte{}} }

func (r *recorder) Name() string { return r.name }

func (r *recorder) Apply(tx projections.Tx, e domain.Event) error { return r.ApplyStored(tx, e, nil) }

func (r *recorder) ApplyStored(tx projections.Tx, e domain.Event, stored []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied = append(r.applied, e.Position)
	if stored != nil {
		r.stored[e.Position] = stored
	}
	return tx.Set([]byte("last"), []byte(e.ID))
}

func (r *recorder) positions() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.applied...)
}

func runFeed(t *testing.T, store domain.EventStore, runners []*projections.Runner) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	f := New(store, runners, slog.New(slog.DiscardHandler), Options{RetryInitial: time.Millisecond, RetryMax: 20 * time.Millisecond})
	go func() { done <- f.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
	}
}

func openRunners(t *testing.T, ps ...projections.Projection) []*projections.Runner {
	t.Helper()
	rm, err := readmodel.Open(filepath.Join(t.TempDir(), "rm"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rm.Close() })
	var out []*projections.Runner
	for _, p := range ps {
		r, err := projections.NewRunner(p, rm)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// The store's feed is read once for every projection in the process, and
// each gets every event once, in order, with its stored JSON as the store
// holds it.
func TestEveryProjectionGetsTheOneDecodedFeed(t *testing.T) {
	store := openStore(t)
	appendN(t, store, 40)
	feed := &feedbustest.FailingFeed{Store: store}
	recs := []*recorder{newRecorder("a"), newRecorder("b"), newRecorder("c")}
	runners := openRunners(t, recs[0], recs[1], recs[2])
	stop := runFeed(t, feed, runners)
	appendN(t, store, 60) // live
	eventually(t, "every projection at 100", func() bool { return allAt(runners, 100) })
	stop()
	if starts := feed.Starts(); len(starts) != 1 || starts[0] != 1 {
		t.Fatalf("the feed was read from %v, want once, from 1, for all %d projections", starts, len(runners))
	}
	stored, err := store.ReadAll(context.Background(), 1, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		got := r.positions()
		if len(got) != 100 || got[0] != 1 || got[99] != 100 {
			t.Fatalf("%s applied %d events (%v…), want 1 to 100 once each", r.name, len(got), got[:min(5, len(got))])
		}
		for _, e := range stored {
			want, _ := e.MarshalJSON()
			if !bytes.Equal(r.stored[e.Position], want) {
				t.Fatalf("%s was handed %q for position %d, want the stored JSON %q", r.name, r.stored[e.Position], e.Position, want)
			}
		}
	}
}

// A projection behind the others — rebuilt, say — catches up from its own
// checkpoint, reading the store itself, while the shared feed stays with
// the others at the head: live events do not wait for the catch-up.
func TestAProjectionBehindCatchesUpFromItsOwnCheckpoint(t *testing.T) {
	store := openStore(t)
	appendN(t, store, 2000)
	live, behind := newRecorder("live"), newRecorder("behind")
	runners := openRunners(t, live, behind)
	if _, err := runners[0].CatchUp(context.Background(), store, 500, nil); err != nil {
		t.Fatal(err)
	}
	caughtUp := len(live.positions())
	feed := &feedbustest.FailingFeed{Store: store}
	stop := runFeed(t, feed, runners)
	defer stop()
	appendN(t, store, 5)
	eventually(t, "both at 2005", func() bool { return allAt(runners, 2005) })
	if starts := feed.Starts(); len(starts) != 1 || starts[0] != 2001 {
		t.Fatalf("the shared feed was read from %v, want once from 2001: where the furthest projection is", starts)
	}
	got := behind.positions()
	if len(got) != 2005 || got[0] != 1 {
		t.Fatalf("the projection behind applied %d events from %v, want all 2005 from its checkpoint", len(got), got[:min(3, len(got))])
	}
	if n := len(live.positions()) - caughtUp; n != 5 {
		t.Fatalf("the live projection applied %d events, want the 5 new ones", n)
	}
}

// A projection that keeps failing on one event does not hold the others
// up, however long it fails: it leaves the shared feed while it waits for
// its retry, and reads the store itself when it applies again.
func TestAStalledProjectionNeverHoldsUpTheSharedFeed(t *testing.T) {
	store := openStore(t)
	p := &feedbustest.Poison{At: 5}
	p.On.Store(true)
	ok := newRecorder("ok")
	runners := openRunners(t, ok, p)
	stop := runFeed(t, store, runners)
	defer stop()
	const n = 40 * keptChunks // far more chunks than the feed keeps
	appendN(t, store, n)
	eventually(t, "the healthy projection at the head", func() bool { return runners[0].Position() == n })
	if pos := runners[1].Position(); pos != 4 {
		t.Fatalf("the poisoned projection at %d, want stuck at 4", pos)
	}
	p.On.Store(false)
	eventually(t, "the healed projection at the head", func() bool { return runners[1].Position() == n })
}
