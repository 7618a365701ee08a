package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/feedbus/feedbustest"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/domain/ledger"
)

// twoNodes returns two ledgers over one fresh log, standing for two API
// nodes, and a tenant.
func twoNodes(t *testing.T) (*embedded.Store, *ledger.Service, *ledger.Service, domain.Tenant) {
	t.Helper()
	store, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := clocktest.New(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	tn, _ := domain.ParseTenant("org/app")
	return store, ledger.New(store, clock), ledger.New(store, clock), tn
}

// setSenderWindow records a policy with this sender window through l.
func setSenderWindow(t *testing.T, l *ledger.Service, tn domain.Tenant, window int64) {
	t.Helper()
	p := domain.DefaultPolicy()
	p.SenderWindowS = window
	if _, err := l.SetPolicy(context.Background(), tn, p, "admin"); err != nil {
		t.Fatal(err)
	}
}

// Two services over one log stand for two API nodes: a policy one sets
// reaches the other's cache through the log (followPolicies), and an older
// event never replaces a newer policy.
func TestPolicyChangesReachOtherNodesThroughTheLog(t *testing.T) {
	store, a, b, tn := twoNodes(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	if p, err := a.Policy(ctx, tn); err != nil || p.SenderWindowS != domain.DefaultSenderWindowS {
		t.Fatalf("a's first policy: %+v %v", p, err)
	}
	setSenderWindow(t, b, tn, 30)
	if p, _ := a.Policy(ctx, tn); p.SenderWindowS != domain.DefaultSenderWindowS {
		t.Fatalf("a's cache changed without observing the log: %+v", p)
	}

	done := make(chan struct{})
	from := store.Head() + 1
	go func() {
		defer close(done)
		followPolicies(ctx, store, from, a, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	setSenderWindow(t, b, tn, 45)
	eventually(t, func() string {
		if p, _ := a.Policy(ctx, tn); p.SenderWindowS != 45 || p.Version != 2 {
			return fmt.Sprintf("a's policy did not follow b's change: window %d version %d", p.SenderWindowS, p.Version)
		}
		return ""
	})
	cancel()
	<-done

	evs, err := store.ReadStream(context.Background(), domain.TenantStream(tn))
	if err != nil || len(evs) != 2 {
		t.Fatalf("tenant stream: %d events, %v", len(evs), err)
	}
	if err := a.ObservePolicy(evs[0]); err != nil { // the older one, again
		t.Fatal(err)
	}
	if p, _ := a.Policy(context.Background(), tn); p.SenderWindowS != 45 || p.Version != 2 {
		t.Fatalf("an older policy event replaced the newer: window %d version %d", p.SenderWindowS, p.Version)
	}
	read := evs[0]
	read.Type = domain.TypeMessageRead
	if err := a.ObservePolicy(read); err != nil {
		t.Fatalf("another event type: %v", err)
	}
}

// The policy follower outlives a failed read of the log: it logs the
// failure and resumes after the last event it saw, so a node does not go
// on deciding by a stale policy for good.
func TestPolicyFollowerResumesAfterItsFeedFails(t *testing.T) {
	store, a, b, tn := twoNodes(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, w := range []int64{10, 20, 30} { // positions 1 to 3
		setSenderWindow(t, b, tn, w)
	}
	feed := &feedbustest.FailingFeed{Store: store, After: 3}
	logs := &lineWriter{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		followPolicies(ctx, feed, 1, a, slog.New(slog.NewTextHandler(logs, nil)))
	}()
	eventually(t, func() string {
		if p, _ := a.Policy(ctx, tn); p.SenderWindowS != 30 {
			return fmt.Sprintf("a's policy window %d, want 30", p.SenderWindowS)
		}
		return ""
	})
	feed.Failing.Store(true)
	setSenderWindow(t, b, tn, 45)
	eventually(t, func() string {
		if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "injected") {
			return "the failed read was not logged at error with its cause: " + logs.String()
		}
		return ""
	})
	feed.Failing.Store(false)
	eventually(t, func() string {
		if p, _ := a.Policy(ctx, tn); p.SenderWindowS != 45 || p.Version != 4 {
			return fmt.Sprintf("after the log reads again a's policy is window %d version %d, want 45 and 4", p.SenderWindowS, p.Version)
		}
		return ""
	})
	cancel()
	<-done
}
