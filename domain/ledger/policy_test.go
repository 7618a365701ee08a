package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/domain/ledger"
)

// Two services over one log stand for two API nodes: a policy one sets
// reaches the other's cache through the log, and an older event never
// replaces a newer policy.
func TestPolicyChangesReachOtherNodesThroughTheLog(t *testing.T) {
	store, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	clock := clocktest.New(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	a, b := ledger.New(store, clock), ledger.New(store, clock)
	tn, _ := domain.ParseTenant("org/app")

	if p, err := a.Policy(ctx, tn); err != nil || p.SenderWindowS != domain.DefaultSenderWindowS {
		t.Fatalf("a's first policy: %+v %v", p, err)
	}
	for _, window := range []int64{30, 45} {
		p := domain.DefaultPolicy()
		p.SenderWindowS = window
		if _, err := b.SetPolicy(ctx, tn, p, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	if p, _ := a.Policy(ctx, tn); p.SenderWindowS != domain.DefaultSenderWindowS {
		t.Fatalf("a's cache changed without observing the log: %+v", p)
	}
	evs, err := store.ReadStream(ctx, domain.TenantStream(tn))
	if err != nil || len(evs) != 2 {
		t.Fatalf("tenant stream: %d events, %v", len(evs), err)
	}
	for _, e := range []domain.Event{evs[1], evs[0]} { // newest first: the older must not win
		if err := a.ObservePolicy(e); err != nil {
			t.Fatal(err)
		}
	}
	if p, _ := a.Policy(ctx, tn); p.SenderWindowS != 45 || p.Version != 2 {
		t.Fatalf("a's policy after observing the log: window %d version %d, want 45 and 2", p.SenderWindowS, p.Version)
	}
	send := evs[0]
	send.Type = domain.TypeMessageRead
	if err := a.ObservePolicy(send); err != nil {
		t.Fatalf("another event type: %v", err)
	}
}
