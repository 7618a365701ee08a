package natsbus_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/feedbus"
	"github.com/recallledger/recall/adapters/natsbus"
	"github.com/recallledger/recall/adapters/natsbus/natsbustest"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
)

// The bus carries each send's content as its tenant's feed_content says,
// as GET …/events does: a tenant at none publishes neither content nor
// hash, one at sha256 only the hash, one left at plaintext the content.
func TestBusCarriesContentAsTheTenantsFeedContentSays(t *testing.T) {
	url := natsbustest.StartServer(t)
	dir := t.TempDir()
	store, err := embedded.Open(filepath.Join(dir, "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rm, err := readmodel.Open(filepath.Join(dir, "node"))
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := ledger.New(store, domain.SystemClock{})

	modes := map[string]string{"none/app": "none", "sha/app": "sha256", "open/app": ""}
	for name, mode := range modes {
		if mode == "" {
			continue
		}
		tn, _ := domain.ParseTenant(name)
		p, err := domain.NewPolicy(domain.PolicySpec{FeedContent: &mode})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.SetPolicy(ctx, tn, p, "test"); err != nil {
			t.Fatal(err)
		}
	}
	for name := range modes {
		tn, _ := domain.ParseTenant(name)
		cmd, _ := domain.NewSendCommand("alice", "bob", "chat", "txt", "SECRET of "+name, "ios", "")
		if _, err := l.Send(ctx, tn, cmd); err != nil {
			t.Fatal(err)
		}
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

	sub, err := natsbus.NewSubscriber(url, "analytics", quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	msgs, err := sub.Subscribe(ctx, natsbus.AllSubjects)
	if err != nil {
		t.Fatal(err)
	}
	sends := map[string]domain.MessageSent{}
	for seen := uint64(0); seen < store.Head(); {
		select {
		case m := <-msgs:
			e, _, err := natsbus.Decode(m)
			if err != nil {
				t.Fatal(err)
			}
			seen = max(seen, e.Position)
			if p, ok := e.Data.(domain.MessageSent); ok {
				sends[e.Tenant] = p
			}
			m.Ack()
		case <-time.After(20 * time.Second):
			t.Fatalf("the bus stopped at position %d of %d", seen, store.Head())
		}
	}
	cases := []struct {
		tenant, content string
		hash            bool
		redaction       domain.FeedContent
	}{
		{"none/app", "", false, domain.FeedNone},
		{"sha/app", "", true, domain.FeedSHA256},
		{"open/app", "SECRET of open/app", true, ""},
	}
	for _, c := range cases {
		s, ok := sends[c.tenant]
		if !ok {
			t.Fatalf("no send of %s on the bus", c.tenant)
		}
		if s.Content != c.content || (s.ContentSHA256 != "") != c.hash || s.ContentRedacted != c.redaction {
			t.Errorf("%s on the bus: %+v", c.tenant, s)
		}
		if c.redaction != "" && strings.Contains(s.Content, "SECRET") {
			t.Errorf("%s's content on the bus", c.tenant)
		}
	}
}
