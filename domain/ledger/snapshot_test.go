package ledger

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
)

// plainStore hides the store's capabilities: a ledger over it replays
// every stream.
type plainStore struct{ domain.EventStore }

func TestDecisionsFromSnapshotsEqualDecisionsFromTheWholeStream(t *testing.T) {
	store, err := embedded.Open(filepath.Join(t.TempDir(), "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	clock := clocktest.New(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	snapped, replayed := New(store, clock), New(plainStore{store}, clock)
	if snapped.snapshots == nil || replayed.snapshots != nil {
		t.Fatal("the embedded store should keep snapshots, the plain one not")
	}
	ctx := context.Background()
	tn, _ := domain.ParseTenant("a/a")
	send, _ := domain.NewSendCommand("alice", "team", "groupchat", "txt", "hello", "ios", "c1")
	sent, err := snapped.Send(ctx, tn, send)
	if err != nil {
		t.Fatal(err)
	}
	read := func(s *Service, reader string) bool {
		t.Helper()
		cmd, _ := domain.NewReadCommand(string(sent.MsgID), reader, "ios")
		recorded, err := s.Read(ctx, tn, cmd)
		if err != nil {
			t.Fatal(err)
		}
		return recorded
	}
	for i := range 3 * snapshotEvery {
		ledger := []*Service{snapped, replayed}[i%2]
		if !read(ledger, fmt.Sprint("m", i)) {
			t.Fatalf("read %d recorded nothing", i)
		}
		clock.Advance(time.Millisecond)
		// a repeat, asked of the other ledger, records nothing
		if read([]*Service{replayed, snapped}[i%2], fmt.Sprint("m", i)) {
			t.Fatalf("repeat of read %d recorded", i)
		}
	}
	snap, tail, err := store.ReadStreamSnapshot(ctx, domain.MessageStream(tn, sent.MsgID))
	if err != nil || snap.Version == domain.NoStream || len(tail) >= snapshotEvery {
		t.Fatalf("after %d reads: snapshot at %d with %d events after it (%v); want one saved", 3*snapshotEvery, snap.Version, len(tail), err)
	}
	fromSnap, err := snapped.load(ctx, domain.MessageStream(tn, sent.MsgID))
	if err != nil {
		t.Fatal(err)
	}
	whole, err := replayed.load(ctx, domain.MessageStream(tn, sent.MsgID))
	if err != nil {
		t.Fatal(err)
	}
	if whole.Sent.Content != "hello" || fromSnap.Sent.Content != "" {
		t.Fatalf("content: %q from the stream, %q from the snapshot (which leaves it out)", whole.Sent.Content, fromSnap.Sent.Content)
	}
	whole.Sent.Content = ""
	if fmt.Sprintf("%+v", fromSnap) != fmt.Sprintf("%+v", whole) {
		t.Fatalf("from the snapshot:\n%+v\nfrom the whole stream:\n%+v", fromSnap, whole)
	}
	// a recall records the same exposure either way
	recall, _ := domain.NewRecallCommand(string(sent.MsgID), "alice", "member", "ios", "", "r1")
	out, err := snapped.Recall(ctx, tn, recall)
	if err != nil || !out.Decision.Recalled {
		t.Fatalf("recall: %+v %v", out, err)
	}
	if len(out.Decision.ReadBy) != 3*snapshotEvery || !slices.Equal(out.Decision.ReadBy, whole.ReadBy) {
		t.Fatalf("exposure %v, want every reader in the order read: %v", out.Decision.ReadBy, whole.ReadBy)
	}
	again, err := replayed.Recall(ctx, tn, recall)
	if err != nil || !again.Replayed || !slices.Equal(again.Decision.ReadBy, out.Decision.ReadBy) {
		t.Fatalf("the retry, replayed from the whole stream: %+v %v", again, err)
	}
}

func TestConcurrentReadsOfOneMessageRecordEachReaderOnce(t *testing.T) {
	store, err := embedded.Open(filepath.Join(t.TempDir(), "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	l := New(store, clocktest.New(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)))
	ctx := context.Background()
	tn, _ := domain.ParseTenant("a/a")
	send, _ := domain.NewSendCommand("alice", "team", "groupchat", "txt", "hello", "ios", "")
	sent, err := l.Send(ctx, tn, send)
	if err != nil {
		t.Fatal(err)
	}
	const readers, repeats = 40, 4
	var mu sync.Mutex
	recorded := map[string]int{}
	var wg sync.WaitGroup
	for i := range readers * repeats {
		wg.Go(func() {
			reader := fmt.Sprint("m", i%readers)
			cmd, _ := domain.NewReadCommand(string(sent.MsgID), reader, "ios")
			ok, err := l.Read(ctx, tn, cmd)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				recorded[reader]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	evs, err := store.ReadStream(ctx, domain.MessageStream(tn, sent.MsgID))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1+readers {
		t.Fatalf("%d events, want the send and one read per reader (%d)", len(evs), readers)
	}
	for i := range readers {
		if n := recorded[fmt.Sprint("m", i)]; n != 1 {
			t.Errorf("reader m%d: %d reads reported recorded, want 1", i, n)
		}
	}
}
