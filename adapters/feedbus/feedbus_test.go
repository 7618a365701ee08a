package feedbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/eventstore/eventstoretest"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
)

func openStore(t testing.TB) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(filepath.Join(t.TempDir(), "events"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func appendN(t testing.TB, s *embedded.Store, n int) {
	t.Helper()
	for i := range n {
		if _, err := s.Append(context.Background(), "x-a/a.1", domain.AnyVersion, []domain.Event{eventstoretest.Event(t, "a/a", i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSubscriberDeliversInOrderAndRedeliversOnNack(t *testing.T) {
	store := openStore(t)
	appendN(t, store, 3)
	sub := NewSubscriber(store, func(string) uint64 { return 2 }, SubscriberConfig{RetryInitial: time.Millisecond})
	defer sub.Close()
	msgs, err := sub.Subscribe(context.Background(), "topic")
	if err != nil {
		t.Fatal(err)
	}
	next := func() ([]uint64, func() bool, func() bool) {
		select {
		case m := <-msgs:
			b, err := BatchOf(m)
			if err != nil {
				t.Fatal(err)
			}
			var pos []uint64
			for _, e := range b.Events {
				pos = append(pos, e.Position)
			}
			if last := pos[len(pos)-1]; m.Metadata.Get(PositionKey) != fmt.Sprint(last) || m.UUID != fmt.Sprint(last) {
				t.Fatalf("metadata %v uuid %s for positions %v", m.Metadata, m.UUID, pos)
			}
			return pos, m.Ack, m.Nack
		case <-time.After(5 * time.Second):
			t.Fatal("no message in 5 s")
		}
		return nil, nil, nil
	}
	pos, _, nack := next()
	if fmt.Sprint(pos) != "[2 3]" {
		t.Fatalf("first message carries %v, want the stored events from the topic's start [2 3]", pos)
	}
	nack()
	pos, ack, _ := next()
	if fmt.Sprint(pos) != "[2 3]" {
		t.Fatalf("after a nack got %v, want [2 3] again", pos)
	}
	ack()
	appendN(t, store, 1) // live
	if pos, ack, _ = next(); fmt.Sprint(pos) != "[4]" {
		t.Fatalf("live event %v, want [4]", pos)
	}
	ack()
}

// flaky fails its first apply of every event, and panics once: the
// router's retry and recovery must still make each event take effect
// exactly once.
type flaky struct {
	mu       sync.Mutex
	failed   map[uint64]bool
	panicked bool
	applied  atomic.Int64
}

func (f *flaky) Name() string { return "flaky" }

func (f *flaky) Apply(tx projections.Tx, e domain.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.panicked {
		f.panicked = true
		panic("boom")
	}
	if !f.failed[e.Position] {
		f.failed[e.Position] = true
		return errors.New("transient")
	}
	f.applied.Add(1)
	n, _ := tx.Get([]byte("count"))
	return tx.Set([]byte("count"), append(n, 'x'))
}

func TestRunAppliesEveryEventOnceThroughRetriesAndPanics(t *testing.T) {
	store := openStore(t)
	rm, err := readmodel.Open(filepath.Join(t.TempDir(), "rm"))
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	p := &flaky{failed: map[uint64]bool{}}
	r, err := projections.NewRunner(p, rm)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, store, 20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, store, []*projections.Runner{r}, slog.New(slog.DiscardHandler)) }()
	appendN(t, store, 10)
	deadline := time.Now().Add(10 * time.Second)
	for r.Position() < 30 {
		if time.Now().After(deadline) {
			t.Fatalf("runner at %d of 30 after 10 s", r.Position())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	var count []byte
	if err := rm.View("flaky", func(tx projections.Tx) error { count, err = tx.Get([]byte("count")); return err }); err != nil {
		t.Fatal(err)
	}
	// failed batches roll back whole, so only the committed count says
	// how often each event took effect
	if len(count) != 30 {
		t.Fatalf("events took effect %d times, want 30 (each once); Apply ran %d times", len(count), p.applied.Load())
	}
}
