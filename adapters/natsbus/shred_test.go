package natsbus_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recallledger/recall/adapters/kek"
	"github.com/recallledger/recall/adapters/keystore"
	"github.com/recallledger/recall/adapters/natsbus/natsbustest"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/keyring"
	"github.com/recallledger/recall/domain/ledger"
)

// Sealed content crosses the bus as its tenant's feed_content plaintext
// says — decrypted by the forwarder while its live key exists — and never
// once a recall destroyed the key: the recalled send goes out shredded.
func TestBusNeverCarriesShreddedContent(t *testing.T) {
	url := natsbustest.StartServer(t)
	store, rm := openBusNode(t)
	dir := t.TempDir()
	keys, err := keystore.Open(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	set, err := kek.NewSet("k1", map[string][]byte{"k1": bytes.Repeat([]byte{3}, kek.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l := ledger.New(store, domain.SystemClock{}, ledger.WithKeyring(keyring.New(keys, set, nil)))
	tn, _ := domain.ParseTenant("open/app")
	send := func(content string) domain.MsgID {
		cmd, _ := domain.NewSendCommand("alice", "bob", "chat", "txt", content, "ios", "")
		r, err := l.Send(ctx, tn, cmd)
		if err != nil {
			t.Fatal(err)
		}
		return r.MsgID
	}
	recalled, kept := send("RECALLED secret"), send("KEPT text")
	if out, err := l.Recall(ctx, tn, domain.RecallCommand{MsgID: recalled, Actor: "alice", Role: domain.ActorMember}); err != nil || !out.Decision.Recalled || out.ShredErr != nil || out.Shred.Destroyed != 1 {
		t.Fatalf("recall: %+v %v", out, err)
	}

	sends := map[domain.MsgID]domain.MessageSent{}
	for _, m := range forwardAll(t, url, store, rm, l.Redactor()) {
		if strings.Contains(string(m.payload), "RECALLED") {
			t.Fatalf("recalled content on the bus: %s", m.payload)
		}
		if p, ok := m.event.Data.(domain.MessageSent); ok {
			sends[p.MsgID] = p
		}
	}
	if s := sends[recalled]; s.Content != "" || s.ContentRedacted != domain.ContentShredded || s.ContentLive == nil {
		t.Errorf("the recalled send on the bus: %+v", s)
	}
	if s := sends[kept]; s.Content != "KEPT text" || s.ContentRedacted != "" {
		t.Errorf("the kept send on the bus: %+v", s)
	}
}
