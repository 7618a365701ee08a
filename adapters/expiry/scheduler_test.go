package expiry

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/domain/ledger"
)

type rig struct {
	t     *testing.T
	dir   string
	clock *clocktest.Clock
	store *embedded.Store
	l     *ledger.Service
	s     *Scheduler
}

func newRig(t *testing.T, dir string, clock *clocktest.Clock) *rig {
	t.Helper()
	store, err := embedded.Open(filepath.Join(dir, "events"))
	if err != nil {
		t.Fatal(err)
	}
	l := ledger.New(store, clock)
	s, err := Open(filepath.Join(dir, "expiry"), l, clock, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, dir: dir, clock: clock, store: store, l: l, s: s}
}

func (r *rig) close() {
	if err := r.s.Close(); err != nil {
		r.t.Error(err)
	}
	if err := r.store.Close(); err != nil {
		r.t.Error(err)
	}
}

// catchUp applies every stored event to the index, as Run's feed would.
func (r *rig) catchUp() {
	r.t.Helper()
	evs, err := r.store.ReadAll(context.Background(), r.s.Position()+1, "", 100000)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, e := range evs {
		if err := r.s.Apply(e); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *rig) send(tn domain.Tenant, content string) domain.MsgID {
	r.t.Helper()
	cmd, err := domain.NewSendCommand("alice", "bob", "chat", "txt", content, "ios", "")
	if err != nil {
		r.t.Fatal(err)
	}
	res, err := r.l.Send(context.Background(), tn, cmd)
	if err != nil {
		r.t.Fatal(err)
	}
	return res.MsgID
}

func (r *rig) expiredCount(tn domain.Tenant) int {
	r.t.Helper()
	evs, err := r.store.ReadAll(context.Background(), 0, tn.String(), 100000)
	if err != nil {
		r.t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type() == domain.TypeMessageExpired {
			n++
		}
	}
	return n
}

// sweep runs one sweep and returns when the next is due.
func (r *rig) sweep() time.Time {
	r.t.Helper()
	next, err := r.s.Sweep(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return next
}

// expired reports whether msg of tn is expired, as the ledger sees it.
func (r *rig) expired(tn domain.Tenant, msg domain.MsgID) bool {
	r.t.Helper()
	m, err := r.l.Message(context.Background(), tn, msg)
	if err != nil {
		r.t.Fatal(err)
	}
	return m.Expired
}

func TestExpiresStrictlyAfterRetentionOnceAndAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := clocktest.New(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	r := newRig(t, dir, clock)
	tn, _ := domain.ParseTenant("acme/chat")
	other, _ := domain.ParseTenant("other/chat")
	retention := int64(3600)
	window := int64(60)
	p, err := domain.NewPolicy(domain.PolicySpec{MessageRetentionS: &retention, SenderWindowS: &window, AdminWindowS: &window})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.l.SetPolicy(ctx, tn, p, "test"); err != nil {
		t.Fatal(err)
	}
	first := r.send(tn, "first")
	clock.Advance(10 * time.Minute)
	second := r.send(tn, "second")
	r.send(other, "default retention: 7 days")
	r.catchUp()

	clock.Advance(50 * time.Minute) // first is exactly at sent_at + retention: not yet expired
	next := r.sweep()
	if n := r.expiredCount(tn); n != 0 {
		t.Fatalf("at exactly the retention %d messages expired, want 0", n)
	}
	if want := clock.Now().Add(time.Millisecond); !next.Equal(want) {
		t.Fatalf("next due %v, want %v", next, want)
	}

	clock.Advance(time.Millisecond)
	r.sweep()
	if !r.expired(tn, first) || r.expiredCount(tn) != 1 {
		t.Fatalf("1 ms past retention: first expired=%v, %d expiries", r.expired(tn, first), r.expiredCount(tn))
	}
	// a sweep before the feed caught up with the expiry must not expire it twice
	r.sweep()
	if n := r.expiredCount(tn); n != 1 {
		t.Fatalf("%d expiries after a repeated sweep, want 1", n)
	}
	r.catchUp()
	r.close()

	// restart: the index and its checkpoint are on disk
	r = newRig(t, dir, clock)
	defer r.close()
	if r.s.Position() == 0 {
		t.Fatal("checkpoint lost across restart")
	}
	clock.Advance(10 * time.Minute)
	r.catchUp()
	r.sweep()
	if !r.expired(tn, second) || r.expiredCount(tn) != 2 {
		t.Fatalf("after restart: second expired=%v, %d expiries; want true, 2", r.expired(tn, second), r.expiredCount(tn))
	}
	if n := r.expiredCount(other); n != 0 {
		t.Fatalf("other tenant (7-day retention) had %d expiries", n)
	}
	// recalling an expired message is refused as expired
	cmd, _ := domain.NewRecallCommand(string(second), "alice", "", "ios", "", "")
	out, err := r.l.Recall(ctx, tn, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if out.Decision.Reason != domain.ReasonExpired {
		t.Fatalf("recall of expired message: %+v", out.Decision)
	}
}

func TestRunExpiresLive(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	clock := clocktest.New(time.Now())
	r := newRig(t, dir, clock)
	defer r.close()
	tn, _ := domain.ParseTenant("acme/live")
	retention, window := int64(2), int64(1)
	p, _ := domain.NewPolicy(domain.PolicySpec{MessageRetentionS: &retention, SenderWindowS: &window, AdminWindowS: &window})
	if _, err := r.l.SetPolicy(ctx, tn, p, "test"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.s.Run(ctx) }()
	id := r.send(tn, "soon gone")
	clock.Advance(3 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := r.l.Message(ctx, tn, id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Expired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not expire the message within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
}
