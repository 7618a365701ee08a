package httpapi

import (
	"context"
	"sync"
	"testing"

	"github.com/recallledger/recall/domain"
)

// raceStore lets an identical concurrent request win: before the first
// append to a stream it is told about, it appends the same events itself,
// so the ledger's own append is an idempotent retry at the store.
type raceStore struct {
	domain.EventStore
	mu     sync.Mutex
	stream string
	done   bool
}

func (s *raceStore) Append(ctx context.Context, stream string, expected int64, evs []domain.Event) (domain.Appended, error) {
	s.mu.Lock()
	first := stream == s.stream && !s.done
	s.done = s.done || first
	s.mu.Unlock()
	if first {
		if _, err := s.EventStore.Append(ctx, stream, expected, evs); err != nil {
			return domain.Appended{}, err
		}
	}
	return s.EventStore.Append(ctx, stream, expected, evs)
}

func TestReplayedComesFromTheStoreNotFromTimestamps(t *testing.T) {
	t.Run("a retry of a recall of a missing message at the same instant is replayed", func(t *testing.T) {
		a := newTestAPI(t, nil)
		// the clock does not move: a retry's event has the very timestamp
		// of the original, so only the store can tell it was a retry
		body := `{"actor":"alice","request_id":"r1"}`
		first := a.do("POST", "/v1/a/a/messages/nosuch/recall", domain.AccessService, body)
		again := a.do("POST", "/v1/a/a/messages/nosuch/recall", domain.AccessService, body)
		if first.status != 404 || first.json(t)["replayed"] != false {
			t.Fatalf("first attempt: %d %s", first.status, first.body)
		}
		if again.status != 404 || again.json(t)["replayed"] != true {
			t.Fatalf("retry: %d %s, want replayed true", again.status, again.body)
		}
		if n := len(a.events(domain.TypeRecallRejected)); n != 1 {
			t.Fatalf("%d refusals recorded, want 1", n)
		}
	})
	t.Run("an identical request that won the race makes this one a replay", func(t *testing.T) {
		race := &raceStore{}
		a := newTestAPI(t, func(s domain.EventStore) domain.EventStore { race.EventStore = s; return race })
		msg := a.send("alice", "bob", "chat")
		race.mu.Lock()
		race.stream = domain.MessageStream(mustTenant(t, "a/a"), domain.MsgID(msg))
		race.mu.Unlock()
		r := a.do("POST", "/v1/a/a/messages/"+msg+"/recall", domain.AccessService, `{"actor":"alice","request_id":"r1"}`)
		if r.status != 200 || r.json(t)["recalled"] != true || r.json(t)["replayed"] != true {
			t.Fatalf("recall whose twin was stored first: %d %s, want recalled and replayed", r.status, r.body)
		}
		if n := len(a.events(domain.TypeMessageRecalled)); n != 1 {
			t.Fatalf("%d recalls recorded, want 1", n)
		}
	})
}

func mustTenant(t *testing.T, s string) domain.Tenant {
	t.Helper()
	tn, err := domain.ParseTenant(s)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}
