package expiry

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/adapters/readmodel/readmodeltest"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/conversation"
)

// readCounter counts how often one stream is read: a sweep that retries a
// message reads its stream again.
type readCounter struct {
	*embedded.Store
	stream string
	reads  atomic.Int64
}

func (c *readCounter) ReadStream(ctx context.Context, stream string) ([]domain.Event, error) {
	if stream == c.stream {
		c.reads.Add(1)
	}
	return c.Store.ReadStream(ctx, stream)
}

// purgeRig is a scheduler over an embedded store whose stream reads are
// counted, the conversation view beside it (fed when the test says), a
// clock the test advances, and tenant acme/chat whose message and audit
// retention are one day: allowed, and the purge may come first.
type purgeRig struct {
	t       *testing.T
	clock   *clocktest.Clock
	store   *embedded.Store
	rm      *readmodel.Store
	convs   *projections.Runner
	counted *readCounter
	l       *ledger.Service
	s       *Scheduler
	logged  *bytes.Buffer
	tn      domain.Tenant
}

func newPurgeRig(t *testing.T) *purgeRig {
	dir := t.TempDir()
	r := &purgeRig{t: t, clock: clocktest.New(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)), logged: &bytes.Buffer{}}
	stores := readmodeltest.OpenStores(t, dir, conversation.Projection{})
	r.store, r.rm, r.convs = stores.Events, stores.Models, stores.Runners[0]
	var err error
	r.counted = &readCounter{Store: r.store}
	r.l = ledger.New(r.counted, r.clock)
	if r.s, err = Open(filepath.Join(dir, "expiry"), r.l, r.clock, slog.New(slog.NewTextHandler(r.logged, &slog.HandlerOptions{Level: slog.LevelDebug}))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.s.Close() })
	r.tn, _ = domain.ParseTenant("acme/chat")
	day := int64(86400)
	p, err := domain.NewPolicy(domain.PolicySpec{MessageRetentionS: &day, AuditRetentionS: &day, AdminWindowS: &day})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.l.SetPolicy(context.Background(), r.tn, p, "admin"); err != nil {
		t.Fatal(err)
	}
	return r
}

// feed hands every stored event to the conversation view and the index.
func (r *purgeRig) feed() {
	r.t.Helper()
	evs, err := r.store.ReadAll(context.Background(), 0, "", 100000)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, e := range evs {
		if err := r.convs.Handle(e); err != nil {
			r.t.Fatal(err)
		}
		if err := r.s.Apply(e); err != nil {
			r.t.Fatal(err)
		}
	}
}

// A message whose send the store purged before it expired (the scheduler
// was behind, or retention and audit retention are equal and the purge
// won the race) must still expire: the scheduler records its
// MessageExpired once, drops it from its index and says so, and does not
// try it again on every later sweep; the conversation view then drops it.
func TestMessagePurgedBeforeItExpiredStillExpiresOnceAndLeavesTheIndex(t *testing.T) {
	ctx := context.Background()
	r := newPurgeRig(t)
	clock, store, rm, counted, l, s, tn := r.clock, r.store, r.rm, r.counted, r.l, r.s, r.tn
	logged := r.logged
	cmd, _ := domain.NewSendCommand("alice", "bob", "chat", "txt", "short-lived", "ios", "")
	sent, err := l.Send(ctx, tn, cmd)
	if err != nil {
		t.Fatal(err)
	}
	counted.stream = domain.MessageStream(tn, sent.MsgID)
	feed := r.feed
	feed()
	if v, _ := conversation.Query(rm, tn.String(), sent.ConversationID, "bob", "en", "", 10, time.Time{}); len(v.Messages) != 1 {
		t.Fatalf("before: view holds %d messages, want 1", len(v.Messages))
	}

	// past retention, the store's purge runs before the scheduler's sweep
	clock.Advance(24*time.Hour + time.Minute)
	if n, err := store.PurgeTenant(ctx, tn.String(), store.Head()); err != nil || n != 1 {
		t.Fatalf("purge: %d %v, want the send removed", n, err)
	}
	for range 5 {
		if _, err := s.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := counted.reads.Load(); n > 1 {
		t.Errorf("5 sweeps read the purged message's stream %d times: it is retried on every sweep", n)
	}
	_, closer, err := s.db.Get(msgKey(tn.String(), sent.MsgID))
	if err == nil {
		closer.Close()
		t.Errorf("the purged message is still in the expiry index")
	} else if !errors.Is(err, pebble.ErrNotFound) {
		t.Fatal(err)
	}
	if next, err := s.Sweep(ctx); err != nil || !next.IsZero() {
		t.Errorf("after the purge the index still has something due at %v (%v)", next, err)
	}
	evs, err := store.ReadStream(ctx, domain.MessageStream(tn, sent.MsgID))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type() != domain.TypeMessageExpired {
		t.Fatalf("the purged message's stream holds %d events, want its one MessageExpired: %+v", len(evs), evs)
	}
	if !strings.Contains(logged.String(), string(sent.MsgID)) || !strings.Contains(logged.String(), "purged") {
		t.Errorf("nothing logged about dropping the purged message: %q", logged.String())
	}

	feed()
	if v, _ := conversation.Query(rm, tn.String(), sent.ConversationID, "bob", "en", "", 10, time.Time{}); len(v.Messages) != 0 {
		t.Fatalf("the purged message is still in the conversation view, content %q", *v.Messages[0].Content)
	}
	m, err := l.Message(ctx, tn, sent.MsgID)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := domain.NewRecallCommand(string(sent.MsgID), "alice", "", "ios", "", "")
	if d, err := l.Recall(ctx, tn, rc); err != nil || d.Decision.Recalled || !m.Expired {
		t.Fatalf("after the expiry: expired=%v, recall %+v %v", m.Expired, d.Decision, err)
	}
}
