package retention_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/recallledger/recall/adapters/auditsign"
	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/adapters/readmodel/readmodeltest"
	"github.com/recallledger/recall/adapters/retention"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
	"github.com/recallledger/recall/projections/auditlog/auditproof"
)

// node is one life of a process over a data directory: its stores, the
// audit log and the checkpoint signer. A "crash" is dropping it between
// two steps of a purge and opening the directory again.
type node struct {
	stores *readmodeltest.Stores
	store  *embedded.Store
	rm     *readmodel.Store
	audit  *projections.Runner
	signer *auditsign.Signer
}

func openNode(t *testing.T, dir string, clock domain.Clock) *node {
	t.Helper()
	s := readmodeltest.OpenStores(t, dir, auditlog.Projection{})
	tn, _ := domain.ParseTenant("acme/chat")
	signer, err := auditsign.New(s.Models, dir, func() ([]domain.Tenant, error) { return []domain.Tenant{tn}, nil }, auditsign.Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return &node{stores: s, store: s.Events, rm: s.Models, audit: s.Runners[0], signer: signer}
}

func (n *node) close() {
	n.signer.Close()
	n.stores.Close()
}

func (n *node) feed(t *testing.T) {
	t.Helper()
	if _, err := n.audit.CatchUp(context.Background(), n.store, 100, nil); err != nil {
		t.Fatal(err)
	}
}

func (n *node) sign(t *testing.T) auditproof.Checkpoint {
	t.Helper()
	s, ok, err := n.signer.SignNow(context.Background(), "acme/chat")
	if err != nil || !ok {
		t.Fatalf("sign: %v %v", ok, err)
	}
	keys, err := n.signer.Keys()
	if err != nil {
		t.Fatal(err)
	}
	c, err := auditproof.OpenCheckpoint(s.Checkpoint, keys, "acme/chat")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// proves checks, as an auditor would, that every kept entry is in the
// checkpoint cur and that cur extends each checkpoint signed before.
func (n *node) proves(t *testing.T, when string, cur auditproof.Checkpoint, before ...auditproof.Checkpoint) {
	t.Helper()
	page, err := auditlog.Query(n.rm, "acme/chat", auditlog.Filter{Limit: 1000})
	if err != nil || len(page.Entries) == 0 {
		t.Fatalf("%s: entries %v", when, err)
	}
	for _, e := range page.Entries {
		inc, err := auditlog.ProveInclusion(n.rm, "acme/chat", e.Seq, cur.Size)
		if err != nil {
			t.Fatalf("%s: entry %d: %v", when, e.Seq, err)
		}
		if err := tlog.CheckRecord(inc.Proof, int64(cur.Size), cur.Root, int64(inc.LeafIndex), inc.RecordHash); err != nil {
			t.Fatalf("%s: entry %d not in the signed tree: %v", when, e.Seq, err)
		}
	}
	for _, old := range before {
		proof, err := auditlog.ProveConsistency(n.rm, "acme/chat", old.Size, cur.Size)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if err := auditproof.CheckConsistency(old, cur, proof); err != nil {
			t.Fatalf("%s: the checkpoint of size %d: %v", when, old.Size, err)
		}
	}
	keys, _ := n.signer.Keys()
	if k, err := auditsign.VerifyStored(n.rm, keys, "acme/chat"); err != nil || k == 0 {
		t.Fatalf("%s: stored checkpoints: %d %v", when, k, err)
	}
	if v, err := auditlog.Verify(n.rm, "acme/chat"); err != nil || !v.OK || v.TreeRoot == "" {
		t.Fatalf("%s: verify %+v %v", when, v, err)
	}
}

func TestProofsAndConsistencyHoldAcrossAPurgeAndACrashInTheMiddleOfOne(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := clocktest.New(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	if _, _, err := auditsign.LoadOrCreateKey(dir, "retention-test"); err != nil {
		t.Fatal(err)
	}
	n := openNode(t, dir, clock)
	tn, _ := domain.ParseTenant("acme/chat")
	twoDays := int64(2 * 86400)
	p, _ := domain.NewPolicy(domain.PolicySpec{AuditRetentionS: &twoDays, MessageRetentionS: &twoDays})
	send := func(l *ledger.Service, content string) {
		t.Helper()
		cmd, _ := domain.NewSendCommand("alice", "bob", "chat", "txt", content, "", "")
		if _, err := l.Send(ctx, tn, cmd); err != nil {
			t.Fatal(err)
		}
	}
	l := ledger.New(n.store, clock)
	if _, err := l.SetPolicy(ctx, tn, p, "admin"); err != nil {
		t.Fatal(err)
	}
	for _, day := range []string{"day 1", "day 2", "day 3"} {
		send(l, day+" a")
		send(l, day+" b")
		clock.Advance(24 * time.Hour)
	}
	n.feed(t)
	before := n.sign(t) // size 7: the policy and six sends
	if before.Size != 7 {
		t.Fatalf("checkpoint before the purge: size %d", before.Size)
	}

	// day 1's entries go: the read-model purge commits, then the process
	// dies before the store's purge
	// (day 1 and the policy are 72 h old, day 2 48 h: the retention)
	if k, _, err := auditlog.Purge(n.rm, tn.String(), clock.Now()); err != nil || k != 3 {
		t.Fatalf("the purge's first step: %d %v", k, err)
	}
	n.close() // the crash
	n = openNode(t, dir, clock)
	defer func() { n.close() }()
	n.proves(t, "after a crash in the middle of a purge", n.sign(t), before)

	// the next run finishes the job and goes on: day 1 and day 2 go
	clock.Advance(24 * time.Hour)
	res, err := retention.Apply(ctx, n.rm, n.store, nil, domain.NoHolds{}, tn.String(), clock.Now())
	if err != nil || res.Entries == 0 || res.Events == 0 {
		t.Fatalf("retention after the restart: %+v %v", res, err)
	}
	send(ledger.New(n.store, clock), "after the purge")
	n.feed(t)
	after := n.sign(t)
	if after.Size != 8 {
		t.Fatalf("checkpoint after the purge: size %d", after.Size)
	}
	n.proves(t, "after the purge", after, before)
	if _, err := auditlog.ProveInclusion(n.rm, tn.String(), 2, after.Size); err == nil || !strings.Contains(err.Error(), "removed by retention") {
		t.Fatalf("a purged entry: %v", err)
	}

	// and a rebuild from what the store still holds proves the same
	if err := n.audit.Reset(); err != nil {
		t.Fatal(err)
	}
	n.feed(t)
	if tree, err := auditlog.Tree(n.rm, tn.String()); err != nil || tree.Root != after.Root {
		t.Fatalf("rebuilt tree %+v %v; want the signed root", tree, err)
	}
	n.proves(t, "after a rebuild", after, before)
}
