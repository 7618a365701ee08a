package natsbus_test

import (
	"bytes"
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
	store, rm := openBusNode(t)
	ctx := context.Background()
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

	sends := map[string]domain.MessageSent{}
	published := map[uint64][]byte{}
	for pos, m := range forwardAll(t, url, store, rm, l.Redactor()) {
		published[pos] = m.payload
		if p, ok := m.event.Data.(domain.MessageSent); ok {
			sends[m.event.Tenant] = p
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
		if !bytes.Equal(published[e.Position], want) {
			t.Errorf("published at %d:\n%s\nwant\n%s", e.Position, published[e.Position], want)
		}
	}
}

// openBusNode opens a log and a read-model store in a fresh directory.
func openBusNode(t *testing.T) (*embedded.Store, *readmodel.Store) {
	t.Helper()
	dir := t.TempDir()
	store, err := embedded.Open(filepath.Join(dir, "events"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	rm, err := readmodel.Open(filepath.Join(dir, "node"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rm.Close() })
	return store, rm
}

// busMessage is one event as an analytics subscriber received it.
type busMessage struct {
	event   domain.Event
	payload []byte
}

// forwardAll runs the forwarder over the whole log with redactor and
// returns what a subscriber of every subject received, by position.
func forwardAll(t *testing.T, url string, store *embedded.Store, rm *readmodel.Store, redactor natsbus.Redactor) map[uint64]busMessage {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fwd, err := natsbus.NewForwarder(url, redactor, quiet)
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
	got := map[uint64]busMessage{}
	for seen := uint64(0); seen < store.Head(); {
		select {
		case m := <-msgs:
			e, _, err := natsbus.Decode(m)
			if err != nil {
				t.Fatal(err)
			}
			seen = max(seen, e.Position)
			got[e.Position] = busMessage{event: e, payload: m.Payload}
			m.Ack()
		case <-time.After(20 * time.Second):
			t.Fatalf("the bus stopped at position %d of %d", seen, store.Head())
		}
	}
	return got
}
