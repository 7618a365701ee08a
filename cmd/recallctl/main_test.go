package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
)

func ctl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, &out, io.Discard)
	return out.String(), err
}

func TestTenantCreateAndRotate(t *testing.T) {
	dir := t.TempDir()
	out, err := ctl(t, "--data", dir, "tenant", "create", "acme/chat")
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		Tenant string            `json:"tenant"`
		Tokens map[string]string `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if created.Tenant != "acme/chat" || len(created.Tokens) != 3 {
		t.Fatalf("created %+v", created)
	}
	reg, err := tenants.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for role, tok := range created.Tokens {
		if p, ok := reg.Authenticate(tok); !ok || string(p.Role) != role {
			t.Fatalf("%s token does not authenticate as %s", role, role)
		}
	}
	if _, err := ctl(t, "--data", dir, "tenant", "create", "acme/chat"); err == nil {
		t.Fatal("creating an existing tenant succeeded")
	}
	out, err = ctl(t, "--data", dir, "tenant", "rotate", "acme/chat", "auditor")
	if err != nil {
		t.Fatal(err)
	}
	var rotated struct{ Token string }
	if err := json.Unmarshal([]byte(out), &rotated); err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Authenticate(created.Tokens["auditor"]); ok {
		t.Fatal("old auditor token still valid")
	}
	if _, ok := reg.Authenticate(rotated.Token); !ok {
		t.Fatal("new auditor token invalid")
	}
	for _, bad := range [][]string{
		{"--data", dir, "tenant", "create", "no-slash"},
		{"--data", dir, "tenant", "rotate", "acme/chat", "root"},
		{"--data", dir, "tenant", "rotate", "nobody/here", "admin"},
		{"--data", dir, "frobnicate", "now"},
		{"--data", dir},
	} {
		if _, err := ctl(t, bad...); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestExportEvents(t *testing.T) {
	dir := t.TempDir()
	store, err := embedded.Open(filepath.Join(dir, "events"))
	if err != nil {
		t.Fatal(err)
	}
	l := ledger.New(store, domain.SystemClock{})
	for i, name := range []string{"a/a", "b/b", "a/a"} {
		tn, _ := domain.ParseTenant(name)
		cmd, _ := domain.NewSendCommand("alice", "bob", "chat", "txt", strings.Repeat("x", i+1), "", "")
		if _, err := l.Send(context.Background(), tn, cmd); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := ctl(t, "--data", dir, "export", "events", "--from-position", "2")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("from position 2: %d lines, want 2:\n%s", len(lines), out)
	}
	for i, line := range lines {
		var e domain.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if e.Position != uint64(i+2) || e.SchemaVersion != 1 || e.OccurredAt.Time().After(time.Now()) {
			t.Fatalf("line %d: %+v", i, e)
		}
	}
	out, err = ctl(t, "--data", dir, "export", "events", "--tenant", "a/a")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "\n"); n != 2 || strings.Contains(out, `"tenant":"b/b"`) {
		t.Fatalf("tenant a/a export: %d lines:\n%s", n, out)
	}
}
