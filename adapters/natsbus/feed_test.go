package natsbus_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/feedbus"
	"github.com/recallledger/recall/adapters/natsbus"
	"github.com/recallledger/recall/adapters/natsbus/natsbustest"
	"github.com/recallledger/recall/adapters/readmodel/readmodeltest"
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
	stores := readmodeltest.OpenStores(t, dir) // closed when the test ends
	store, rm := stores.Events, stores.Models
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := ledger.New(store, domain.SystemClock{})
	modes := map[string]string{"none/app": "none", "sha/app": "sha256", "open/app": ""}
	sendUnderEachFeedContent(t, l, modes)

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
	published := readTheBus(t, ctx, url, store.Head())

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
		var s domain.MessageSent
		ok := false
		for _, e := range published {
			if p, isSend := e.Data.(domain.MessageSent); isSend && e.Tenant == c.tenant {
				s, ok = p, true
			}
		}
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
	// what goes out as it is, goes out as the bytes the store holds (the
	// forwarder takes them from the feed); only a redacted send is encoded
	stored, err := store.ReadAll(ctx, 1, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range stored {
		want, err := e.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if mode := modes[e.Tenant]; mode != "" {
			redacted, _ := domain.RedactForFeed(e, domain.FeedContent(mode))
			want, _ = redacted.MarshalJSON()
		}
		if !bytes.Equal(published[e.Position].payload, want) {
			t.Errorf("published at %d:\n%s\nwant\n%s", e.Position, published[e.Position].payload, want)
		}
	}
}

// sendUnderEachFeedContent sets each tenant's feed_content (none left as
// the default) and records a send of "SECRET of TENANT" in each.
func sendUnderEachFeedContent(t *testing.T, l *ledger.Service, modes map[string]string) {
	t.Helper()
	ctx := context.Background()
	for name, mode := range modes {
		tn, _ := domain.ParseTenant(name)
		if mode != "" {
			p, err := domain.NewPolicy(domain.PolicySpec{FeedContent: &mode})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.SetPolicy(ctx, tn, p, "test"); err != nil {
				t.Fatal(err)
			}
		}
		cmd, _ := domain.NewSendCommand("alice", "bob", "chat", "txt", "SECRET of "+name, "ios", "")
		if _, err := l.Send(ctx, tn, cmd); err != nil {
			t.Fatal(err)
		}
	}
}

// published is an event as it came off the bus, with its payload's bytes.
type published struct {
	domain.Event
	payload []byte
}

// readTheBus subscribes to every subject and reads until it has seen
// position head, by position.
func readTheBus(t *testing.T, ctx context.Context, url string, head uint64) map[uint64]published {
	t.Helper()
	sub, err := natsbus.NewSubscriber(url, "analytics", quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	msgs, err := sub.Subscribe(ctx, natsbus.AllSubjects)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]published{}
	for seen := uint64(0); seen < head; {
		select {
		case m := <-msgs:
			e, _, err := natsbus.Decode(m)
			if err != nil {
				t.Fatal(err)
			}
			seen = max(seen, e.Position)
			out[e.Position] = published{e, m.Payload}
			m.Ack()
		case <-time.After(20 * time.Second):
			t.Fatalf("the bus stopped at position %d of %d", seen, head)
		}
	}
	return out
}
