package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/cmd/internal/contentkeys"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
)

// sealedDataDir records, with content protection as recalld has it, a
// kept send and a recalled one in a/a, and closes every store.
func sealedDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	store, err := embedded.Open(filepath.Join(dir, "events"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := contentkeys.Open(dir, "", func(string) string { return "" }, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l := ledger.New(store, domain.SystemClock{}, ledger.WithKeyring(keys.Keyring))
	tn, _ := domain.ParseTenant("a/a")
	var ids []domain.MsgID
	for _, content := range []string{"KEPT text", "RECALLED secret"} {
		cmd, _ := domain.NewSendCommand("alice", "bob", "chat", "txt", content, "", "")
		r, err := l.Send(ctx, tn, cmd)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.MsgID)
	}
	if out, err := l.Recall(ctx, tn, domain.RecallCommand{MsgID: ids[1], Actor: "alice", Role: domain.ActorMember}); err != nil || !out.Decision.Recalled {
		t.Fatalf("recall: %+v %v", out, err)
	}
	if err := keys.Close(); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkExport holds `recallctl export events` on dir to the live keys:
// the kept send's content decrypted, the recalled one's shredded.
func checkExport(t *testing.T, dir string) {
	t.Helper()
	out, err := ctl(t, "--data", dir, "export", "events")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "RECALLED") {
		t.Fatalf("recalled content exported:\n%s", out)
	}
	var kept, shredded int
	for _, s := range exportedSends(t, out) {
		switch {
		case s.Content == "KEPT text" && s.ContentRedacted == "":
			kept++
		case s.Content == "" && s.ContentRedacted == domain.ContentShredded:
			shredded++
		}
	}
	if kept != 1 || shredded != 1 {
		t.Fatalf("%d kept and %d shredded sends exported, want 1 and 1:\n%s", kept, shredded, out)
	}
}

// The data directory's export opens live content and never shredded
// content; a KEK rotation rewraps every key, after which the old KEK can
// be retired and the export reads the same.
func TestExportAndKEKRotationOnASealedDataDirectory(t *testing.T) {
	dir := sealedDataDir(t)
	checkExport(t, dir)
	set, _, err := contentkeys.LoadKEK(dir, "", func(string) string { return "" }, false)
	if err != nil {
		t.Fatal(err)
	}
	old := set.IDs()[0]
	out, err := ctl(t, "--data", dir, "keys", "rotate-kek")
	if err != nil {
		t.Fatal(err)
	}
	// the live key of the kept send and the two audit keys
	if !strings.Contains(out, "rewrapped 3 content keys") || !strings.Contains(out, "wraps 3 live content keys") {
		t.Fatalf("rotate-kek said:\n%s", out)
	}
	if _, err := ctl(t, "--data", dir, "keys", "retire-kek", old); err != nil {
		t.Fatalf("retire the old KEK: %v", err)
	}
	set, _, err = contentkeys.LoadKEK(dir, "", func(string) string { return "" }, false)
	if err != nil || len(set.IDs()) != 1 || set.IDs()[0] == old {
		t.Fatalf("KEKs after the rotation: %v %v", set.IDs(), err)
	}
	checkExport(t, dir)
	if _, err := ctl(t, "--data", dir, "keys", "retire-kek", set.IDs()[0]); err == nil {
		t.Fatal("the current KEK was retired")
	}
}
