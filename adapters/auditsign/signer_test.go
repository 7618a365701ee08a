package auditsign_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/auditsign"
	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/adapters/readmodel/readmodeltest"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
	"github.com/recallledger/recall/projections/auditlog/auditproof"
)

var start = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// rig is a ledger over a real embedded store with the audit log fed from
// it, and a signer over the audit log.
type rig struct {
	t      *testing.T
	dir    string
	clock  *clocktest.Clock
	store  *embedded.Store
	rm     *readmodel.Store
	l      *ledger.Service
	audit  *projections.Runner
	tenant domain.Tenant
	signer *auditsign.Signer
}

func newRig(t *testing.T, cfg auditsign.Config) *rig {
	t.Helper()
	dir := t.TempDir()
	stores := readmodeltest.OpenStores(t, dir, auditlog.Projection{})
	store, rm, audit := stores.Events, stores.Models, stores.Runners[0]
	clock := clocktest.New(start)
	tn, _ := domain.ParseTenant("acme/chat")
	if _, _, err := auditsign.LoadOrCreateKey(dir, "test-deployment"); err != nil {
		t.Fatal(err)
	}
	cfg.Clock = clock
	if cfg.LogPath == "" {
		cfg.LogPath = filepath.Join(dir, "checkpoints.jsonl")
	}
	signer, err := auditsign.New(rm, dir, func() ([]domain.Tenant, error) { return []domain.Tenant{tn}, nil }, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, dir: dir, clock: clock, store: store, rm: rm, l: ledger.New(store, clock), audit: audit, tenant: tn, signer: signer}
	t.Cleanup(func() {
		if err := signer.Close(); err != nil {
			t.Error(err)
		}
		if err := signer.Close(); err != nil { // idempotent
			t.Error(err)
		}
		stores.Close()
	})
	return r
}

// sends records n messages and feeds the audit log.
func (r *rig) sends(n int) {
	r.t.Helper()
	for i := 0; i < n; i++ {
		cmd, err := domain.NewSendCommand("alice", "bob", "chat", "txt", "hello", "ios", "")
		if err != nil {
			r.t.Fatal(err)
		}
		if _, err := r.l.Send(context.Background(), r.tenant, cmd); err != nil {
			r.t.Fatal(err)
		}
	}
	if _, err := r.audit.CatchUp(context.Background(), r.store, 100, nil); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) latest() (auditsign.Signed, bool) {
	r.t.Helper()
	s, ok, err := r.signer.Latest(r.tenant.String())
	if err != nil {
		r.t.Fatal(err)
	}
	return s, ok
}

func (r *rig) keys() auditproof.Keys {
	r.t.Helper()
	k, err := auditsign.LoadKey(r.dir)
	if err != nil {
		r.t.Fatal(err)
	}
	keys, err := auditproof.ParseKeys(strings.Join(k.VerifierKeys(), "\n"))
	if err != nil {
		r.t.Fatal(err)
	}
	return keys
}

func TestCheckpointsAreSignedEveryNEntriesOrTSeconds(t *testing.T) {
	r := newRig(t, auditsign.Config{Every: 5, Interval: time.Minute})
	ctx := context.Background()
	r.sends(3)
	if err := r.signer.Round(ctx); err != nil {
		t.Fatal(err)
	}
	first, ok := r.latest()
	if !ok || first.Size != 3 {
		t.Fatalf("first checkpoint: %+v %v; want size 3 at once", first, ok)
	}
	steps := []struct {
		name     string
		sends    int
		advance  time.Duration
		wantSize uint64
	}{
		{"fewer than N new entries within T: not yet", 2, 10 * time.Second, 3},
		{"N new entries: signed", 3, 0, 8},
		{"one new entry, T not passed: not yet", 1, 59 * time.Second, 8},
		{"T passed: signed", 0, time.Second, 9},
		{"T passed without new entries: nothing to sign", 0, 2 * time.Minute, 9},
	}
	for _, s := range steps {
		r.sends(s.sends)
		r.clock.Advance(s.advance)
		if err := r.signer.Round(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := r.latest(); got.Size != s.wantSize {
			t.Fatalf("%s: latest size %d, want %d", s.name, got.Size, s.wantSize)
		}
	}
	// every signed checkpoint is kept, opens with the verifier key and is
	// the tree's root at its size
	keys := r.keys()
	n, err := auditsign.VerifyStored(r.rm, keys, r.tenant.String())
	if err != nil || n != 3 {
		t.Fatalf("stored checkpoints: %d %v; want 3 that verify", n, err)
	}
	for _, size := range []uint64{3, 8, 9} {
		s, ok, err := auditsign.At(r.rm, r.tenant.String(), size)
		if err != nil || !ok {
			t.Fatalf("checkpoint %d: %v %v", size, ok, err)
		}
		c, err := auditproof.OpenCheckpoint(s.Checkpoint, keys, "acme/chat")
		if err != nil || c.Size != size || c.Origin != "test-deployment/acme/chat" {
			t.Fatalf("checkpoint %d: %+v %v", size, c, err)
		}
		root, _ := auditlog.RootAt(r.rm, r.tenant.String(), size)
		if root != c.Root {
			t.Fatalf("checkpoint %d's root is not the tree's", size)
		}
	}
	// and published, in order, to the JSON-lines file
	f, err := os.Open(filepath.Join(r.dir, "checkpoints.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sizes []uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s auditsign.Signed
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, s.Size)
	}
	if len(sizes) != 3 || sizes[0] != 3 || sizes[1] != 8 || sizes[2] != 9 {
		t.Fatalf("published sizes %v", sizes)
	}
}

func TestCheckpointOnRequestSignsTheCurrentTree(t *testing.T) {
	r := newRig(t, auditsign.Config{Every: 1000, Interval: time.Hour})
	ctx := context.Background()
	if _, ok, err := r.signer.SignNow(ctx, r.tenant.String()); err != nil || ok {
		t.Fatalf("empty tree: %v %v; want nothing to sign", ok, err)
	}
	r.sends(2)
	s, ok, err := r.signer.SignNow(ctx, r.tenant.String())
	if err != nil || !ok || s.Size != 2 {
		t.Fatalf("on request: %+v %v %v", s, ok, err)
	}
	again, _, _ := r.signer.SignNow(ctx, r.tenant.String())
	if again.Checkpoint != s.Checkpoint {
		t.Fatal("a request for an unchanged tree signed it again")
	}
}

func TestKeyRotationKeepsOldCheckpointsVerifiable(t *testing.T) {
	r := newRig(t, auditsign.Config{Every: 1})
	ctx := context.Background()
	r.sends(2)
	old, _, err := r.signer.SignNow(ctx, r.tenant.String())
	if err != nil {
		t.Fatal(err)
	}
	before, _ := auditsign.LoadKey(r.dir)
	rotated, err := auditsign.RotateKey(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Name != before.Name || rotated.Verifier == before.Verifier || len(rotated.Retired) != 1 || rotated.Retired[0] != before.Verifier {
		t.Fatalf("rotated key %+v", rotated)
	}
	st, err := os.Stat(filepath.Join(r.dir, auditsign.KeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", st.Mode(), err)
	}
	r.sends(1)
	next, _, err := r.signer.SignNow(ctx, r.tenant.String())
	if err != nil {
		t.Fatal(err)
	}
	all := r.keys()
	onlyNew, _ := auditproof.ParseKeys(rotated.Verifier)
	onlyOld, _ := auditproof.ParseKeys(before.Verifier)
	for _, c := range []struct {
		name   string
		signed string
		keys   auditproof.Keys
		ok     bool
	}{
		{"old checkpoint, every key", old.Checkpoint, all, true},
		{"new checkpoint, every key", next.Checkpoint, all, true},
		{"new checkpoint, the old key alone", next.Checkpoint, onlyOld, false},
		{"old checkpoint, the new key alone", old.Checkpoint, onlyNew, false},
	} {
		_, err := auditproof.OpenCheckpoint(c.signed, c.keys, "")
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if n, err := auditsign.VerifyStored(r.rm, all, r.tenant.String()); err != nil || n != 2 {
		t.Fatalf("stored after rotation: %d %v", n, err)
	}
	// the rotation statement is signed by both keys
	if !strings.Contains(rotated.Rotations[0], "recall-ledger audit key rotation\n"+before.Verifier+"\n"+rotated.Verifier+"\n") ||
		strings.Count(rotated.Rotations[0], "— "+rotated.Name+" ") != 2 {
		t.Fatalf("rotation statement:\n%s", rotated.Rotations[0])
	}
}

func TestKeyIsMadeOnceWithMode0600(t *testing.T) {
	dir := t.TempDir()
	k, created, err := auditsign.LoadOrCreateKey(dir, "")
	if err != nil || !created || !strings.HasPrefix(k.Name, "recall-ledger-") {
		t.Fatalf("%+v %v %v", k, created, err)
	}
	again, created, err := auditsign.LoadOrCreateKey(dir, "another-name")
	if err != nil || created || again.Verifier != k.Verifier {
		t.Fatalf("second start made a new key: %+v %v %v", again, created, err)
	}
	st, _ := os.Stat(filepath.Join(dir, auditsign.KeyFile))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	if _, _, err := auditsign.LoadOrCreateKey(t.TempDir(), "bad name"); err == nil {
		t.Fatal("a name with a space was taken")
	}
	if _, err := auditsign.LoadKey(t.TempDir()); err == nil || !strings.Contains(err.Error(), "first start") {
		t.Fatalf("no key: %v", err)
	}
}
