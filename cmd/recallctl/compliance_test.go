package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recallledger/recall/adapters/erasure"
	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/httpapi"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/catalog"
)

// A hold placed, an erasure deferred by it, the hold released and the
// conversation seen at a time: recallctl through a running API over real
// stores and read models.
func TestHoldErasureAndAsOfThroughAServer(t *testing.T) {
	dir := t.TempDir()
	store, err := embedded.Open(filepath.Join(dir, "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rm, err := readmodel.Open(filepath.Join(dir, "rm"))
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	runners, err := catalog.Runners(rm)
	if err != nil {
		t.Fatal(err)
	}
	feed := func(context.Context, uint64) error {
		for _, r := range runners {
			if _, err := r.CatchUp(context.Background(), store, 1000, nil); err != nil {
				return err
			}
		}
		return nil
	}
	ctx := context.Background()
	l := ledger.New(store, domain.SystemClock{})
	tn, _ := domain.ParseTenant("a/a")
	cmd, _ := domain.NewSendCommand("alice", "bob", "chat", "txt", "hello", "", "")
	sent, err := l.Send(ctx, tn, cmd)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := tenants.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	toks, err := reg.Create(tn)
	if err != nil {
		t.Fatal(err)
	}
	var conv *projections.Runner
	for _, r := range runners {
		if r.Name() == "conversations" {
			conv = r
		}
	}
	svc := erasure.New(l, rm, nil, feed, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(httpapi.New(l, reg, httpapi.NewMetrics(), slog.New(slog.DiscardHandler), httpapi.Config{Compliance: svc}, nil,
		&httpapi.ReadSide{Store: rm, Conversations: conv}))
	defer srv.Close()
	admin := []string{"--server", srv.URL, "--token", toks[domain.AccessAdmin]}

	out, err := ctl(t, append(admin, "hold", "place", "--tenant", "a/a", "--scope", "user", "--id", "alice", "--case", "CASE-1")...)
	if err != nil {
		t.Fatal(err)
	}
	var placed struct{ Hold domain.Hold }
	if err := json.Unmarshal([]byte(out), &placed); err != nil || placed.Hold.ID == "" {
		t.Fatalf("hold place printed %s (%v)", out, err)
	}
	if out, err = ctl(t, append(admin, "hold", "list", "--tenant", "a/a", "--active")...); err != nil || !strings.Contains(out, placed.Hold.ID) {
		t.Fatalf("hold list: %s %v", out, err)
	}
	if out, err = ctl(t, append(admin, "erasure", "request", "--tenant", "a/a", "--user", "alice", "--reason", "GDPR")...); err != nil {
		t.Fatal(err)
	}
	var e struct {
		ID     string `json:"erasure_id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &e); err != nil || e.Status != "deferred" || !strings.Contains(out, string(sent.MsgID)) {
		t.Fatalf("erasure request printed %s (%v)", out, err)
	}
	if out, err = ctl(t, append(admin, "hold", "release", "--tenant", "a/a", placed.Hold.ID, "--reason", "closed")...); err != nil || !strings.Contains(out, `"status": "done"`) {
		t.Fatalf("hold release: %s %v", out, err)
	}
	if out, err = ctl(t, append(admin, "erasure", "show", "--tenant", "a/a", e.ID)...); err != nil || !strings.Contains(out, `"erased_count": 1`) {
		t.Fatalf("erasure show: %s %v", out, err)
	}
	if err := feed(ctx, 0); err != nil {
		t.Fatal(err)
	}
	out, err = ctl(t, "--server", srv.URL, "--token", toks[domain.AccessAuditor], "conversation", "as-of", "--tenant", "a/a",
		"--conversation", "chat:bob:alice", "--viewer", "bob", "--at", sent.SentAt.String()) // as bob saw it then: since erased
	if err != nil || !strings.Contains(out, `"content_gone": "erased"`) || !strings.Contains(out, `"unread": 1`) {
		t.Fatalf("conversation as-of: %s %v", out, err)
	}
	// a refusal is the server's message, and an error
	if _, err := ctl(t, append(admin, "hold", "release", "--tenant", "a/a", "nope")...); err == nil || !strings.Contains(err.Error(), "hold_not_found") {
		t.Fatalf("releasing an unknown hold: %v", err)
	}
	if _, err := ctl(t, "hold", "list", "--tenant", "a/a"); err == nil || !strings.Contains(err.Error(), "--server") {
		t.Fatalf("without --server: %v", err)
	}
}
