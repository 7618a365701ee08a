package natsbus_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recallledger/recall/adapters/feedbus"
	"github.com/recallledger/recall/adapters/kek"
	"github.com/recallledger/recall/adapters/keystore"
	"github.com/recallledger/recall/adapters/natsbus"
	"github.com/recallledger/recall/adapters/natsbus/natsbustest"
	"github.com/recallledger/recall/adapters/readmodel/readmodeltest"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/keyring"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
)

// Sealed content crosses the bus as its tenant's feed_content plaintext
// says — decrypted by the forwarder while its live key exists — and never
// once a recall destroyed the key: the recalled send goes out shredded.
func TestBusNeverCarriesShreddedContent(t *testing.T) {
	url := natsbustest.StartServer(t)
	dir := t.TempDir()
	stores := readmodeltest.OpenStores(t, dir) // closed when the test ends
	store, rm := stores.Events, stores.Models
	keys, err := keystore.Open(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	set, err := kek.NewSet("k1", map[string][]byte{"k1": bytes.Repeat([]byte{3}, kek.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
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

	fwd, err := natsbus.NewForwarder(url, l.Redactor(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer fwd.Close()
	runner, err := projections.NewRunner(fwd, rm)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = feedbus.Run(ctx, store, []*projections.Runner{runner}, quiet) }()
	sends := map[domain.MsgID]domain.MessageSent{}
	for _, m := range readTheBus(t, ctx, url, store.Head()) {
		if strings.Contains(string(m.payload), "RECALLED") {
			t.Fatalf("recalled content on the bus: %s", m.payload)
		}
		if p, ok := m.Data.(domain.MessageSent); ok {
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
