package readmodel_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/projections/auditlog"
	"github.com/recallledger/recall/projections/auditlog/audittest"
)

// memHashes is an independent tlog tree, kept in memory by the test from
// the entries' record hashes: what the stored tree must agree with.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = m[x]
	}
	return out, nil
}

func independentTree(t *testing.T, entries []auditlog.Entry) memHashes {
	t.Helper()
	var m memHashes
	for i, e := range entries {
		hs, err := tlog.StoredHashes(int64(i), auditlog.AppendCanonical(nil, e), m)
		if err != nil {
			t.Fatal(err)
		}
		m = append(m, hs...)
	}
	return m
}

func allEntries(t *testing.T, w *world) []auditlog.Entry {
	t.Helper()
	page, err := auditlog.Query(w.rm, w.tenant.String(), auditlog.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return page.Entries
}

func TestEveryAuditEntryIsALeafProvenByTlog(t *testing.T) {
	w := newWorld(t, t.TempDir(), clocktest.New(start))
	defer w.close()
	story(w)
	w.feed()
	entries := allEntries(t, w)
	tree, err := auditlog.Tree(w.rm, w.tenant.String())
	if err != nil || tree.Size != uint64(len(entries)) || tree.Base != 0 || tree.Migrated != 0 {
		t.Fatalf("tree %+v %v; want %d leaves from 0, born with the log", tree, err, len(entries))
	}
	mem := independentTree(t, entries)
	for size := uint64(1); size <= tree.Size; size++ {
		want, err := tlog.TreeHash(int64(size), mem)
		if err != nil {
			t.Fatal(err)
		}
		got, err := auditlog.RootAt(w.rm, w.tenant.String(), size)
		if err != nil || got != want {
			t.Fatalf("root at %d: %v %v, want %v", size, got, err, want)
		}
		for _, e := range entries[:size] {
			inc, err := auditlog.ProveInclusion(w.rm, w.tenant.String(), e.Seq, size)
			if err != nil {
				t.Fatal(err)
			}
			if inc.LeafIndex != e.Seq-1 || inc.RecordHash != tlog.RecordHash(auditlog.AppendCanonical(nil, e)) {
				t.Fatalf("entry %d: leaf %d, record hash %v", e.Seq, inc.LeafIndex, inc.RecordHash)
			}
			if err := tlog.CheckRecord(inc.Proof, int64(size), want, int64(inc.LeafIndex), inc.RecordHash); err != nil {
				t.Fatalf("entry %d in size %d: %v", e.Seq, size, err)
			}
		}
		for from := uint64(1); from <= size; from++ {
			proof, err := auditlog.ProveConsistency(w.rm, w.tenant.String(), from, size)
			if err != nil {
				t.Fatal(err)
			}
			old, _ := tlog.TreeHash(int64(from), mem)
			if err := tlog.CheckTree(proof, int64(size), want, int64(from), old); err != nil {
				t.Fatalf("consistency %d→%d: %v", from, size, err)
			}
		}
	}
	res, err := auditlog.Verify(w.rm, w.tenant.String())
	if err != nil || !res.OK || res.TreeSize != tree.Size || res.TreeRoot != tree.Root.String() {
		t.Fatalf("verify: %+v %v; tree %+v", res, err, tree)
	}
}

func TestAuditProofRequestsOutsideTheTreeAreRefused(t *testing.T) {
	w := newWorld(t, t.TempDir(), clocktest.New(start))
	defer w.close()
	story(w)
	w.feed()
	tn := w.tenant.String()
	cases := []struct {
		name string
		call func() error
		code string
	}{
		{"size 0", func() error { _, err := auditlog.ProveInclusion(w.rm, tn, 1, 0); return err }, "invalid_size"},
		{"size past the tree", func() error { _, err := auditlog.ProveInclusion(w.rm, tn, 1, 99); return err }, "invalid_size"},
		{"seq past the size", func() error { _, err := auditlog.ProveInclusion(w.rm, tn, 5, 4); return err }, "invalid_seq"},
		{"seq 0", func() error { _, err := auditlog.ProveInclusion(w.rm, tn, 0, 4); return err }, "invalid_seq"},
		{"from after to", func() error { _, err := auditlog.ProveConsistency(w.rm, tn, 5, 4); return err }, "invalid_from"},
		{"from 0", func() error { _, err := auditlog.ProveConsistency(w.rm, tn, 0, 4); return err }, "invalid_from"},
		{"root past the tree", func() error { _, err := auditlog.RootAt(w.rm, tn, 10); return err }, "invalid_size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			var inv *domain.InvalidError
			if !errors.As(err, &inv) || inv.Code != c.code {
				t.Fatalf("error %v, want %s", err, c.code)
			}
		})
	}
}

func TestRewrittenEntryWithItsChainRecomputedIsNamedByTheTree(t *testing.T) {
	w := newWorld(t, t.TempDir(), clocktest.New(start))
	defer w.close()
	story(w)
	w.feed()
	err := audittest.RewriteFrom(w.rm, w.tenant.String(), 4, func(e *auditlog.Entry) {
		if e.Seq == 4 {
			e.Outcome = "recalled"
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := auditlog.Verify(w.rm, w.tenant.String()); res.BrokenAt != 4 {
		t.Fatalf("verify: %+v", res)
	}
	res, err := auditlog.Verify(w.rm, w.tenant.String())
	if err != nil || res.OK || res.BrokenAt != 4 || !strings.Contains(res.Problem, "tree's leaf") {
		t.Fatalf("verify after rewriting entry 4 with its chain: %+v %v", res, err)
	}
}

func TestReorderedEntriesAreDetected(t *testing.T) {
	w := newWorld(t, t.TempDir(), clocktest.New(start))
	defer w.close()
	story(w)
	w.feed()
	if err := audittest.Swap(w.rm, w.tenant.String(), 3, 4); err != nil {
		t.Fatal(err)
	}
	res, err := auditlog.Verify(w.rm, w.tenant.String())
	if err != nil || res.OK || res.BrokenAt != 3 {
		t.Fatalf("verify after swapping entries 3 and 4: %+v %v", res, err)
	}
}

func TestAuditTreeSurvivesARebuildAfterARetentionPurge(t *testing.T) {
	clock := clocktest.New(start)
	w := newWorld(t, t.TempDir(), clock)
	defer w.close()
	w.retainTwoDays()
	w.send("alice", "bob", "chat", "old news")
	w.send("alice", "bob", "chat", "older news")
	clock.Advance(36 * time.Hour)
	recent := w.send("alice", "bob", "chat", "recent")
	w.feed()
	tn := w.tenant.String()
	before, err := auditlog.Tree(w.rm, tn)
	if err != nil || before.Size != 4 {
		t.Fatalf("tree before: %+v %v", before, err)
	}
	clock.Advance(24 * time.Hour)
	if n, _, err := auditlog.Purge(w.rm, tn, clock.Now()); err != nil || n != 3 {
		t.Fatalf("purge: %d %v", n, err)
	}
	w.read(recent, "bob")
	w.feed()
	check := func(when string) auditlog.TreeInfo {
		t.Helper()
		tree, err := auditlog.Tree(w.rm, tn)
		if err != nil || tree.Size != 5 {
			t.Fatalf("%s: tree %+v %v", when, tree, err)
		}
		for _, seq := range []uint64{4, 5} {
			inc, err := auditlog.ProveInclusion(w.rm, tn, seq, tree.Size)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if err := tlog.CheckRecord(inc.Proof, int64(tree.Size), tree.Root, int64(inc.LeafIndex), inc.RecordHash); err != nil {
				t.Fatalf("%s: entry %d: %v", when, seq, err)
			}
		}
		// the checkpoint an auditor kept before the purge still extends
		proof, err := auditlog.ProveConsistency(w.rm, tn, before.Size, tree.Size)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if err := tlog.CheckTree(proof, int64(tree.Size), tree.Root, int64(before.Size), before.Root); err != nil {
			t.Fatalf("%s: consistency with the tree before the purge: %v", when, err)
		}
		if _, err := auditlog.ProveInclusion(w.rm, tn, 2, tree.Size); err == nil || !strings.Contains(err.Error(), "removed by retention") {
			t.Fatalf("%s: proof of a purged entry: %v", when, err)
		}
		if res, err := auditlog.Verify(w.rm, tn); err != nil || !res.OK || res.TreeRoot != tree.Root.String() {
			t.Fatalf("%s: verify %+v %v", when, res, err)
		}
		return tree
	}
	live := check("after the purge")
	liveDump := w.dump()
	for _, r := range w.runners {
		if err := r.Reset(); err != nil {
			t.Fatal(err)
		}
	}
	w.feed()
	if rebuilt := check("after a rebuild"); rebuilt.Root != live.Root {
		t.Fatalf("rebuild changed the root: %v, was %v", rebuilt.Root, live.Root)
	}
	if w.dump() != liveDump {
		t.Fatal("the rebuild after a purge is not byte-identical")
	}
}

func TestAuditLogWrittenBeforeTheTreeIsMigratedOnceAndRecorded(t *testing.T) {
	w := newWorld(t, t.TempDir(), clocktest.New(start))
	defer w.close()
	story(w)
	w.feed()
	tn := w.tenant.String()
	want, err := auditlog.Tree(w.rm, tn)
	if err != nil {
		t.Fatal(err)
	}
	if err := audittest.ForgetTree(w.rm, w.tenant.String()); err != nil {
		t.Fatal(err)
	}
	if res, err := auditlog.Verify(w.rm, tn); err != nil || !res.OK || res.TreeSize != 0 {
		t.Fatalf("an old chain without a tree still verifies: %+v %v", res, err)
	}
	n, err := auditlog.MigrateTree(w.rm, tn)
	if err != nil || n != int(want.Size) {
		t.Fatalf("migration added %d %v; want %d", n, err, want.Size)
	}
	got, err := auditlog.Tree(w.rm, tn)
	if err != nil || got.Root != want.Root || got.Size != want.Size || got.Migrated != want.Size {
		t.Fatalf("migrated tree %+v %v; want the root %v and the migration recorded", got, err, want.Root)
	}
	if n, err := auditlog.MigrateTree(w.rm, tn); err != nil || n != 0 {
		t.Fatalf("second migration: %d %v", n, err)
	}
	res, err := auditlog.Verify(w.rm, tn)
	if err != nil || !res.OK || res.TreeMigrated != want.Size || res.TreeRoot != want.Root.String() {
		t.Fatalf("verify after the migration: %+v %v", res, err)
	}
}

func TestAuditLogPurgedBeforeTheTreeStartsItsTreeAtTheFirstKeptEntry(t *testing.T) {
	clock := clocktest.New(start)
	w := newWorld(t, t.TempDir(), clock)
	defer w.close()
	w.retainTwoDays()
	w.send("alice", "bob", "chat", "old")
	clock.Advance(72 * time.Hour)
	kept := w.send("alice", "bob", "chat", "kept")
	w.feed()
	tn := w.tenant.String()
	if n, _, err := auditlog.Purge(w.rm, tn, clock.Now()); err != nil || n != 2 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if err := audittest.ForgetTree(w.rm, w.tenant.String()); err != nil {
		t.Fatal(err)
	} // as if the purge ran before the tree existed
	if _, err := auditlog.MigrateTree(w.rm, tn); err != nil {
		t.Fatal(err)
	}
	tree, err := auditlog.Tree(w.rm, tn)
	if err != nil || tree.Base != 2 || tree.Size != 1 || tree.Migrated != 1 {
		t.Fatalf("tree %+v %v; want base 2 (the anchor), one leaf, migrated", tree, err)
	}
	w.read(kept, "bob")
	w.feed()
	inc, err := auditlog.ProveInclusion(w.rm, tn, 4, 2)
	if err != nil || inc.LeafIndex != 1 {
		t.Fatalf("entry 4: %+v %v", inc, err)
	}
	root, _ := auditlog.RootAt(w.rm, tn, 2)
	if err := tlog.CheckRecord(inc.Proof, 2, root, 1, inc.RecordHash); err != nil {
		t.Fatal(err)
	}
	if res, err := auditlog.Verify(w.rm, tn); err != nil || !res.OK || res.TreeBase != 2 {
		t.Fatalf("verify: %+v %v", res, err)
	}
}
