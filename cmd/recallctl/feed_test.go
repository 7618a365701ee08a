package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/httpapi"
	"github.com/recallledger/recall/adapters/tenants/tenantstest"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
)

// exportedSends reads `recallctl export events` output: each MessageSent.
func exportedSends(t *testing.T, out string) []domain.MessageSent {
	t.Helper()
	var sends []domain.MessageSent
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e domain.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		if p, ok := e.Data.(domain.MessageSent); ok {
			sends = append(sends, p)
		}
	}
	return sends
}

// `recallctl export events` carries each send's content as its tenant's
// feed_content says, from a data directory and from a running server
// alike; a tenant left at plaintext exports its content as before.
func TestExportEventsCarriesContentAsTheTenantsFeedContentSays(t *testing.T) {
	dir := t.TempDir()
	store, err := embedded.Open(filepath.Join(dir, "events"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l := ledger.New(store, domain.SystemClock{})
	guarded, _ := domain.ParseTenant("a/a")
	open, _ := domain.ParseTenant("b/b")
	mode := "sha256"
	p, err := domain.NewPolicy(domain.PolicySpec{FeedContent: &mode})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.SetPolicy(ctx, guarded, p, "test"); err != nil {
		t.Fatal(err)
	}
	for _, tn := range []domain.Tenant{guarded, open} {
		cmd, _ := domain.NewSendCommand("alice", "bob", "chat", "txt", "SECRET of "+tn.String(), "", "")
		if _, err := l.Send(ctx, tn, cmd); err != nil {
			t.Fatal(err)
		}
	}
	check := func(t *testing.T, out string, wantOpen bool) {
		t.Helper()
		if strings.Contains(out, "SECRET of a/a") {
			t.Fatalf("a/a's content exported under sha256:\n%s", out)
		}
		if strings.Contains(out, "SECRET of b/b") != wantOpen {
			t.Fatalf("b/b (plaintext) content exported: %v, want %v:\n%s", !wantOpen, wantOpen, out)
		}
		for _, s := range exportedSends(t, out) {
			if strings.HasPrefix(s.Content, "SECRET") {
				continue // b/b's
			}
			if s.Content != "" || s.ContentRedacted != domain.FeedSHA256 || len(s.ContentSHA256) != 64 {
				t.Fatalf("a/a's send exported as %+v", s)
			}
		}
	}

	reg, toks := tenantstest.Register(t, dir, guarded.String())
	t.Run("from a running server", func(t *testing.T) {
		srv := httptest.NewServer(httpapi.New(l, reg, httpapi.NewMetrics(), slog.New(slog.DiscardHandler), httpapi.Config{}, nil, nil))
		defer srv.Close()
		out, err := ctl(t, "--server", srv.URL, "--token", toks[domain.AccessAuditor], "export", "events", "--tenant", "a/a")
		if err != nil {
			t.Fatal(err)
		}
		check(t, out, false)
	})
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	t.Run("from the data directory", func(t *testing.T) {
		out, err := ctl(t, "--data", dir, "export", "events")
		if err != nil {
			t.Fatal(err)
		}
		check(t, out, true)
		if out, err = ctl(t, "--data", dir, "export", "events", "--tenant", "a/a"); err != nil {
			t.Fatal(err)
		}
		check(t, out, false)
	})
}
