package natsbus_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/feedbus"
	"github.com/recallledger/recall/adapters/natsbus"
	"github.com/recallledger/recall/adapters/natsbus/natsbustest"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/catalog"
)

// node is an API node: an embedded store whose every event is forwarded
// to JetStream, and a ledger that appends to it.
type node struct {
	store *embedded.Store
	l     *ledger.Service
	fwd   *projections.Runner
}

func startNode(t *testing.T, url string) *node {
	t.Helper()
	dir := t.TempDir()
	store, err := embedded.Open(filepath.Join(dir, "events"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	rm, err := readmodel.Open(filepath.Join(dir, "node"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rm.Close() })
	l := ledger.New(store, domain.SystemClock{})
	fwd, err := natsbus.NewForwarder(url, l.Redactor(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fwd.Close() })
	fr, err := projections.NewRunner(fwd, rm)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- feedbus.Run(ctx, store, []*projections.Runner{fr}, quiet) }()
	t.Cleanup(func() { cancel(); <-done }) // before the stores close
	return &node{store: store, l: l, fwd: fr}
}

func (n *node) send(t *testing.T, count int) {
	t.Helper()
	tn, _ := domain.ParseTenant("acme/chat")
	for i := range count {
		cmd, _ := domain.NewSendCommand("alice", "bob", "chat", "txt", fmt.Sprint("m", i), "", "")
		if _, err := n.l.Send(context.Background(), tn, cmd); err != nil {
			t.Fatal(err)
		}
	}
}

// worker is a running (or refused) RunWorkerWith with read models of its
// own; err is what it returned, once finished is closed.
type worker struct {
	runners  []*projections.Runner
	finished chan struct{}
	err      error
	stop     context.CancelFunc
}

// result waits up to 20 s for the worker to return.
func (w *worker) result(t *testing.T, what string) error {
	t.Helper()
	select {
	case <-w.finished:
		return w.err
	case <-time.After(20 * time.Second):
		t.Fatalf("after 20 s still not: %s", what)
		return nil
	}
}

func startWorker(t *testing.T, url, consumer string, o natsbus.WorkerOptions) *worker {
	t.Helper()
	rm, err := readmodel.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	runners, err := catalog.Runners(rm)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{runners: runners, finished: make(chan struct{}), stop: cancel}
	go func() {
		defer close(w.finished)
		w.err = natsbus.RunWorkerWith(ctx, url, consumer, runners, quiet, o)
	}()
	t.Cleanup(func() {
		cancel()
		w.result(t, "a worker stopped after it was told to")
		rm.Close()
	})
	return w
}

// claims opens the workers' claims bucket.
func claims(t *testing.T, url string) nats.KeyValue {
	t.Helper()
	kv, err := natsbustest.JetStream(t, url).KeyValue(natsbus.ClaimBucket)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// consumerBound reports whether the durable consumer has a subscriber.
func consumerBound(t *testing.T, url, consumer string) func() bool {
	js := natsbustest.JetStream(t, url)
	return func() bool {
		ci, err := js.ConsumerInfo(natsbus.StreamName, consumer)
		return err == nil && ci.PushBound
	}
}

// refusedOrRunning waits until the worker was refused (its error) or has
// its subscription bound (nil).
func refusedOrRunning(t *testing.T, w *worker, bound func() bool) error {
	t.Helper()
	var refused error
	waitFor(t, "the worker refused or running", func() bool {
		select {
		case <-w.finished:
			if refused = w.err; refused == nil {
				t.Fatal("the worker returned nil before it was stopped")
			}
			return true
		default:
			return bound()
		}
	})
	return refused
}

// A second worker on a consumer name that a running worker holds is
// refused at start with an error naming the consumer and what to do; the
// running one keeps complete read models; once it stops, a worker on that
// name starts at once and carries on.
func TestSecondWorkerOnAConsumerNameIsRefused(t *testing.T) {
	url := natsbustest.StartServer(t)
	n := startNode(t, url)
	bound := consumerBound(t, url, "shared")
	first := startWorker(t, url, "shared", natsbus.WorkerOptions{})
	if err := refusedOrRunning(t, first, bound); err != nil {
		t.Fatalf("the first worker was refused: %v", err)
	}
	second := startWorker(t, url, "shared", natsbus.WorkerOptions{})
	err := second.result(t, "a second worker on the same consumer name refused (it runs beside the first)")
	if !errors.Is(err, natsbus.ErrConsumerInUse) || !strings.Contains(err.Error(), `"shared"`) || !strings.Contains(err.Error(), "--consumer") {
		t.Fatalf("second worker: %v, want ErrConsumerInUse naming the consumer and --consumer", err)
	}
	n.send(t, 20)
	waitFor(t, "the first worker to apply every event", func() bool { return minPosition(first.runners) == n.store.Head() })

	first.stop()
	if err := first.result(t, "the first worker stopped"); !errors.Is(err, context.Canceled) {
		t.Fatalf("first worker stopped with %v", err)
	}
	// released on the way out: no waiting for the claim to expire
	successor := startWorker(t, url, "shared", natsbus.WorkerOptions{ClaimTTL: time.Hour})
	if err := refusedOrRunning(t, successor, bound); err != nil {
		t.Fatalf("a worker after the first stopped was refused: %v", err)
	}
	n.send(t, 5)
	waitFor(t, "the successor to apply every event", func() bool { return minPosition(successor.runners) == n.store.Head() })
}

// A worker that died without releasing its name (its claim left behind)
// blocks a successor only until the claim expires.
func TestDeadWorkersClaimExpiresForItsSuccessor(t *testing.T) {
	url := natsbustest.StartServer(t)
	n := startNode(t, url)
	n.send(t, 3)
	kv, err := natsbustest.JetStream(t, url).CreateKeyValue(&nats.KeyValueConfig{Bucket: natsbus.ClaimBucket, TTL: 2 * time.Second, History: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create("orphaned", []byte(`{"id":"x","host":"gone.example","pid":4242,"started":"2026-12-01T10:00:00Z"}`)); err != nil {
		t.Fatal(err)
	}
	bound := consumerBound(t, url, "orphaned")
	refusals := 0
	for {
		w := startWorker(t, url, "orphaned", natsbus.WorkerOptions{})
		err := refusedOrRunning(t, w, bound)
		if err == nil {
			waitFor(t, "the successor to apply every event", func() bool { return minPosition(w.runners) == n.store.Head() })
			break
		}
		if !errors.Is(err, natsbus.ErrConsumerInUse) || !strings.Contains(err.Error(), "pid 4242 on gone.example") {
			t.Fatalf("refused with %v, want ErrConsumerInUse naming the dead worker", err)
		}
		refusals++
		time.Sleep(100 * time.Millisecond) // and try again, as a supervisor restarting it would
	}
	if refusals == 0 {
		t.Fatal("the successor started at once: the dead worker's claim was not honoured")
	}
}

// A worker whose claim another worker took (it expired while the first
// could not renew it) stops instead of applying beside the new holder.
func TestWorkerThatLostItsClaimStops(t *testing.T) {
	url := natsbustest.StartServer(t)
	startNode(t, url)
	w := startWorker(t, url, "taken", natsbus.WorkerOptions{ClaimTTL: 2 * time.Second})
	if err := refusedOrRunning(t, w, consumerBound(t, url, "taken")); err != nil {
		t.Fatalf("refused: %v", err)
	}
	kv := claims(t, url)
	if _, err := kv.Put("taken", []byte(`{"id":"y","host":"other.example","pid":7,"started":"2026-12-01T10:00:00Z"}`)); err != nil {
		t.Fatal(err)
	}
	if err := w.result(t, "the worker stopped after another took its claim"); !errors.Is(err, natsbus.ErrClaimLost) {
		t.Fatalf("stopped with %v, want ErrClaimLost", err)
	}
}

func TestForwarderCloseIsIdempotent(t *testing.T) {
	store, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	fwd, err := natsbus.NewForwarder(natsbustest.StartServer(t), ledger.New(store, domain.SystemClock{}).Redactor(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := fwd.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fwd.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

// A consumer some subscriber is bound to without a claim (a worker of a
// version before claims, an analytics reader on the same name) is in use
// too: the worker is refused, and leaves no claim behind.
func TestWorkerRefusesAConsumerBoundWithoutAClaim(t *testing.T) {
	url := natsbustest.StartServer(t)
	startNode(t, url)
	sub, err := natsbus.NewSubscriber(url, "legacy", quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := sub.Subscribe(context.Background(), natsbus.AllSubjects); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the old subscriber bound", consumerBound(t, url, "legacy"))
	w := startWorker(t, url, "legacy", natsbus.WorkerOptions{})
	err = w.result(t, "the worker refused")
	if !errors.Is(err, natsbus.ErrConsumerInUse) || !strings.Contains(err.Error(), "bound to a running subscriber") {
		t.Fatalf("worker on a bound consumer: %v", err)
	}
	kv := claims(t, url)
	if e, err := kv.Get("legacy"); !errors.Is(err, nats.ErrKeyNotFound) {
		t.Fatalf("the refused worker left its claim: %v %v", e, err)
	}
}
