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
	"github.com/recallledger/recall/adapters/readmodel/readmodeltest"
	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections/catalog"
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

// liveReadModels writes some history and feeds it to the read models one
// event at a time, as a running server would, then returns their bytes.
func liveReadModels(t *testing.T, dir string) string {
	t.Helper()
	store, rm, err := openLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	defer rm.Close()
	l := ledger.New(store, domain.SystemClock{})
	tn, _ := domain.ParseTenant("a/a")
	ctx := context.Background()
	for i := range 30 {
		cmd, _ := domain.NewSendCommand("alice", "bob", "chat", "txt", strings.Repeat("x", i+1), "", "")
		res, err := l.Send(ctx, tn, cmd)
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			rc, _ := domain.NewRecallCommand(string(res.MsgID), []string{"alice", "bob"}[i%2], "", "web", "", "")
			if _, err := l.Recall(ctx, tn, rc); err != nil {
				t.Fatal(err)
			}
		}
	}
	runners, err := catalog.Runners(rm)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := store.ReadAll(ctx, 0, "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runners {
		for _, e := range evs {
			if err := r.Handle(e); err != nil {
				t.Fatal(err)
			}
		}
	}
	return readmodeltest.Dump(t, rm)
}

func TestProjectionsRebuildIsByteIdentical(t *testing.T) {
	dir := t.TempDir()
	live := liveReadModels(t, dir)
	out, err := ctl(t, "--data", dir, "projections", "rebuild")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(catalog.Projections()) {
		t.Fatalf("rebuild printed %q, want a line for each of the %d read models", out, len(catalog.Projections()))
	}
	for _, line := range lines {
		var r struct {
			Projection string  `json:"projection"`
			Events     int     `json:"events"`
			Rate       float64 `json:"events_per_s"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Events != 40 || r.Rate <= 0 {
			t.Fatalf("rebuild line %q: %+v %v", line, r, err)
		}
	}
	store, rm, err := openLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	rebuilt := readmodeltest.Dump(t, rm)
	rm.Close()
	store.Close()
	if rebuilt != live {
		t.Fatal("rebuilt read models differ from the live ones")
	}
	if _, err := ctl(t, "--data", dir, "projections", "rebuild", "audit_log"); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl(t, "--data", dir, "projections", "rebuild", "nonsense"); err == nil {
		t.Fatal("rebuilding an unknown projection succeeded")
	}
}

func TestAuditVerifyAndReportFromDataDir(t *testing.T) {
	dir := t.TempDir()
	liveReadModels(t, dir)
	out, err := ctl(t, "--data", dir, "audit", "verify", "--tenant", "a/a")
	if err != nil || !strings.Contains(out, `"ok":true`) || !strings.Contains(out, `"entries":40`) {
		t.Fatalf("verify: %v %s", err, out)
	}
	out, err = ctl(t, "--data", dir, "report", "recalls", "--tenant", "a/a", "--group-by", "outcome")
	if err != nil {
		t.Fatal(err)
	}
	// 10 attempts: i = 0, 6, 12, 18, 24 by alice (recalled); 3, 9, 15, 21, 27 by bob (forbidden)
	for _, want := range []string{"forbidden", "recalled", "total"} {
		if !strings.Contains(out, want) {
			t.Fatalf("report lacks %q:\n%s", want, out)
		}
	}
	fields := strings.Fields(out[strings.Index(out, "total"):])
	if fields[1] != "10" || fields[2] != "5" || fields[3] != "5" || fields[4] != "0" {
		t.Fatalf("report totals %v:\n%s", fields[:5], out)
	}
	if _, err := ctl(t, "--data", dir, "audit", "query", "--tenant", "a/a"); err == nil {
		t.Fatal("audit query without a server succeeded (it would not be recorded)")
	}
}
