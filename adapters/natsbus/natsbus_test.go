package natsbus_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/natsbus"
	"github.com/recallledger/recall/adapters/natsbus/natsbustest"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/adapters/readmodel/readmodeltest"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/catalog"
)

var quiet = slog.New(slog.DiscardHandler)

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func minPosition(runners []*projections.Runner) uint64 {
	m := runners[0].Position()
	for _, r := range runners[1:] {
		m = min(m, r.Position())
	}
	return m
}

func TestWorkerKeepsReadModelsFromTheBusAcrossRestarts(t *testing.T) {
	url := natsbustest.StartServer(t)
	dir := t.TempDir()
	// the API node: appends, and forwards every event to JetStream
	n := startNode(t, url)
	store := n.store
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	activity := func(from, count int) { sendAndRecall(t, n.l, from, count) }

	// the worker: its own read models, from the bus only
	workerRM, err := readmodel.Open(filepath.Join(dir, "worker"))
	if err != nil {
		t.Fatal(err)
	}
	defer workerRM.Close()
	startWorker := func() (func(), []*projections.Runner) {
		runners, err := catalog.Runners(workerRM)
		if err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- natsbus.RunWorker(wctx, url, "recall-worker", runners, quiet) }()
		return func() { wcancel(); <-done }, runners
	}

	stop, runners := startWorker()
	activity(0, 40)
	waitFor(t, "the worker to apply the first events", func() bool { return minPosition(runners) == store.Head() })
	stop() // killed mid-stream: events keep coming while it is down
	activity(40, 40)
	stop, runners = startWorker()
	waitFor(t, "the restarted worker to catch up", func() bool { return minPosition(runners) == store.Head() })
	stop()

	// the worker's read models equal a rebuild from the store itself:
	// nothing lost, nothing applied twice, in order
	fresh, err := readmodel.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	freshRunners, _ := catalog.Runners(fresh)
	for _, r := range freshRunners {
		if _, err := r.CatchUp(ctx, store, 1000, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := readmodeltest.Dump(t, workerRM), readmodeltest.Dump(t, fresh); got != want {
		t.Fatalf("the worker's read models differ from a rebuild (%d vs %d bytes)", len(got), len(want))
	}

	// a second, independent consumer (an analytics pipeline) reads every
	// event, in order, from the start
	readsInOrder(t, url, "analytics", store.Head())
}

// sendAndRecall sends count messages numbered from from, alternately in
// two tenants, and recalls every third.
func sendAndRecall(t *testing.T, l *ledger.Service, from, count int) {
	t.Helper()
	ctx := context.Background()
	for i := from; i < from+count; i++ {
		tn, _ := domain.ParseTenant([]string{"acme/chat", "beta/app"}[i%2])
		cmd, _ := domain.NewSendCommand("alice", "bob", "chat", "txt", fmt.Sprint("m", i), "ios", fmt.Sprint("c", i))
		res, err := l.Send(ctx, tn, cmd)
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			rc, _ := domain.NewRecallCommand(string(res.MsgID), "alice", "", "web", "", "")
			if _, err := l.Recall(ctx, tn, rc); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// readsInOrder checks that a new consumer of the bus gets every event up
// to head, in position order, each naming its predecessor.
func readsInOrder(t *testing.T, url, consumer string, head uint64) {
	t.Helper()
	sub, err := natsbus.NewSubscriber(url, consumer, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	msgs, err := sub.Subscribe(ctx, natsbus.AllSubjects)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for last < head {
		select {
		case m := <-msgs:
			e, prev, err := natsbus.Decode(m)
			if err != nil {
				t.Fatal(err)
			}
			if e.Position != last+1 || prev != last {
				t.Fatalf("%s got position %d (prev %d) after %d", consumer, e.Position, prev, last)
			}
			last = e.Position
			m.Ack()
		case <-time.After(20 * time.Second):
			t.Fatalf("%s consumer stuck at %d of %d", consumer, last, head)
		}
	}
}
