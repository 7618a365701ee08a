package operators

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
)

// testParams keep argon2id cheap in tests; the format and the code path
// are the production ones.
var testParams = Params{Time: 1, MemoryKiB: 64, Threads: 1}

func testHasher(t *testing.T) *Hasher {
	t.Helper()
	h, err := NewHasher(testParams, 2)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func open(t *testing.T, dir string, clock domain.Clock) *Registry {
	t.Helper()
	r, err := Open(dir, clock, testHasher(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustTenant(t *testing.T, s string) domain.Tenant {
	t.Helper()
	tn, err := domain.ParseTenant(s)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func change(t *testing.T, r *Registry, tn domain.Tenant, action domain.OperatorAction, name string, role domain.AccessRole, password string) (domain.OperatorAccount, string) {
	t.Helper()
	info, pw, err := r.Change(context.Background(), tn, domain.OperatorCommand{Action: action, Name: domain.OperatorName(name), Role: role, By: "recallctl"}, password)
	if err != nil {
		t.Fatalf("%s %s: %v", action, name, err)
	}
	return info, pw
}

func TestAChangeByOneProcessAppliesInAnotherAtOnce(t *testing.T) {
	dir := t.TempDir()
	clock := clocktest.New(t0)
	server := open(t, dir, clock)
	cli := open(t, dir, clock) // recallctl, another process in real life
	demo := mustTenant(t, "demo/demo")
	ctx := context.Background()

	info, pw := change(t, cli, demo, domain.OperatorAdd, "alice", domain.AccessAdmin, "")
	if info.Name != "alice" || info.Role != domain.AccessAdmin || info.Disabled || info.CreatedBy != "recallctl" || info.CreatedAt.Time() != t0 {
		t.Fatalf("created %+v", info)
	}
	if len(pw) != 24 {
		t.Fatalf("generated password %q: want 24 characters", pw)
	}
	vrole, vgen, ok, err := server.Verify(ctx, demo, "alice", pw)
	if err != nil || !ok || vrole != domain.AccessAdmin {
		t.Fatalf("server verify: %v %v %v", vrole, ok, err)
	}
	role, gen, live := server.Current(demo, "alice")
	if !live || role != domain.AccessAdmin || gen != vgen {
		t.Fatalf("current: %s %d %v", role, gen, live)
	}

	// a reset by recallctl gives the operator another generation in the
	// server at once, which ends its sessions, and the old password fails
	_, pw2 := change(t, cli, demo, domain.OperatorReset, "alice", "", "")
	if _, gen2, _ := server.Current(demo, "alice"); gen2 == gen {
		t.Fatal("a reset kept the generation: sessions would survive it")
	}
	if _, _, ok, _ := server.Verify(ctx, demo, "alice", pw); ok {
		t.Fatal("the old password still verifies after a reset")
	}
	if _, _, ok, _ := server.Verify(ctx, demo, "alice", pw2); !ok {
		t.Fatal("the new password does not verify")
	}

	change(t, cli, demo, domain.OperatorDisable, "alice", "", "")
	if _, _, live := server.Current(demo, "alice"); live {
		t.Fatal("a disabled operator is still current")
	}
	if _, _, ok, _ := server.Verify(ctx, demo, "alice", pw2); ok {
		t.Fatal("a disabled operator signs in")
	}
	change(t, cli, demo, domain.OperatorEnable, "alice", "", "")
	if _, _, ok, _ := server.Verify(ctx, demo, "alice", pw2); !ok {
		t.Fatal("an enabled operator cannot sign in")
	}

	// operators belong to one tenant
	if _, _, ok, _ := server.Verify(ctx, mustTenant(t, "other/app"), "alice", pw2); ok {
		t.Fatal("alice of demo/demo signs in to other/app")
	}
	if _, _, err := cli.Change(ctx, demo, domain.OperatorCommand{Action: domain.OperatorAdd, Name: "alice", Role: domain.AccessAuditor, By: "x"}, ""); !errors.As(err, new(*domain.ConflictError)) {
		t.Fatalf("adding alice again: %v, want operator_exists", err)
	}
	list, err := server.List(demo)
	if err != nil || len(list) != 1 || list[0].Name != "alice" {
		t.Fatalf("list: %+v %v", list, err)
	}
}

func TestAChosenPasswordIsChecked(t *testing.T) {
	r := open(t, t.TempDir(), clocktest.New(t0))
	demo := mustTenant(t, "demo/demo")
	for _, pw := range []string{"short", "twelve-chars\x00", strings.Repeat("x", MaxPasswordLen+1)} {
		_, _, err := r.Change(context.Background(), demo, domain.OperatorCommand{Action: domain.OperatorAdd, Name: "alice", Role: domain.AccessAdmin, By: "x"}, pw)
		var inv *domain.InvalidError
		if !errors.As(err, &inv) || inv.Code != "invalid_password" {
			t.Errorf("password %q: %v, want invalid_password", pw, err)
		}
	}
	_, pw := change(t, r, demo, domain.OperatorAdd, "alice", domain.AccessAdmin, "correct horse battery")
	if pw != "correct horse battery" {
		t.Fatalf("returned %q", pw)
	}
	if _, _, ok, _ := r.Verify(context.Background(), demo, "alice", "correct horse battery"); !ok {
		t.Fatal("the chosen password does not verify")
	}
}

func TestOnlyArgon2idHashesAreStoredAndNoneReachesTheLog(t *testing.T) {
	dir := t.TempDir()
	r := open(t, dir, clocktest.New(t0))
	demo := mustTenant(t, "demo/demo")
	_, pw := change(t, r, demo, domain.OperatorAdd, "alice", domain.AccessAdmin, "")
	_, pw2 := change(t, r, demo, domain.OperatorReset, "alice", "", "")

	path := filepath.Join(dir, FileName)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v, want 0600", st.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{pw, pw2} {
		if strings.Contains(string(raw), p) {
			t.Fatalf("the journal holds a password in clear")
		}
	}
	if !strings.Contains(string(raw), "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("no argon2id hash with its parameters in the journal:\n%s", raw)
	}
	evs, _, err := r.Unpublished()
	if err != nil || len(evs) != 2 {
		t.Fatalf("unpublished: %d %v", len(evs), err)
	}
	for _, e := range evs {
		data, err := e.AppendData(nil)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "argon2") || strings.Contains(string(data), pw) {
			t.Errorf("event %s carries a credential: %s", e.Type(), data)
		}
		if e.Stream != domain.OperatorStream(demo) {
			t.Errorf("event %s on stream %q", e.Type(), e.Stream)
		}
	}
}

func TestHashesDifferBySaltAndCarryTheirParameters(t *testing.T) {
	h := testHasher(t)
	ctx := context.Background()
	a, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := h.Hash(ctx, "correct horse battery")
	if a == b {
		t.Fatal("two hashes of one password are equal: no random salt")
	}
	if ok, stale, err := h.Verify(ctx, a, "correct horse battery"); !ok || stale || err != nil {
		t.Fatalf("verify: %v %v %v", ok, stale, err)
	}
	if ok, _, _ := h.Verify(ctx, a, "correct horse batterY"); ok {
		t.Fatal("a wrong password verifies")
	}
	// made with other parameters: still verifies, and says it is stale
	stronger, err := NewHasher(Params{Time: 2, MemoryKiB: 128, Threads: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ok, stale, _ := stronger.Verify(ctx, a, "correct horse battery"); !ok || !stale {
		t.Fatalf("a hash of older parameters: ok %v stale %v", ok, stale)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", strings.Replace(a, "v=19", "v=16", 1)} {
		if _, _, err := h.Verify(ctx, bad, "x"); err == nil {
			t.Errorf("hash %q was read", bad)
		}
	}
}

func TestAStaleHashIsReplacedAtSignIn(t *testing.T) {
	dir := t.TempDir()
	clock := clocktest.New(t0)
	demo := mustTenant(t, "demo/demo")
	old := open(t, dir, clock)
	change(t, old, demo, domain.OperatorAdd, "alice", domain.AccessAdmin, "correct horse battery")
	raised, err := NewHasher(Params{Time: 2, MemoryKiB: 128, Threads: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, clock, raised)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := r.Verify(context.Background(), demo, "alice", "correct horse battery"); !ok || err != nil {
		t.Fatalf("verify: %v %v", ok, err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, FileName))
	if !strings.Contains(string(raw), "$m=128,t=2,p=1$") {
		t.Fatalf("no rehash with the raised parameters:\n%s", raw)
	}
	if _, _, ok, _ := r.Verify(context.Background(), demo, "alice", "correct horse battery"); !ok {
		t.Fatal("the rehashed password does not verify")
	}
}

// An unknown or disabled operator costs the same argon2id work as a
// wrong password: the answer's time must not tell which names exist.
func TestUnknownAndDisabledOperatorsCostAVerifyLikeAWrongPassword(t *testing.T) {
	r := open(t, t.TempDir(), clocktest.New(t0))
	demo := mustTenant(t, "demo/demo")
	change(t, r, demo, domain.OperatorAdd, "alice", domain.AccessAdmin, "correct horse battery")
	change(t, r, demo, domain.OperatorAdd, "bob", domain.AccessAdmin, "correct horse battery")
	change(t, r, demo, domain.OperatorDisable, "bob", "", "")
	for _, name := range []domain.OperatorName{"alice", "nobody", "bob"} {
		before := r.hasher.verifies.Load()
		if _, _, ok, err := r.Verify(context.Background(), demo, name, "wrong password!"); ok || err != nil {
			t.Fatalf("%s: ok %v err %v", name, ok, err)
		}
		if n := r.hasher.verifies.Load() - before; n != 1 {
			t.Errorf("%s: %d argon2id verifications, want 1 as for any other name", name, n)
		}
	}
}

func TestATornLastLineIsCutByTheNextWriter(t *testing.T) {
	dir := t.TempDir()
	clock := clocktest.New(t0)
	demo := mustTenant(t, "demo/demo")
	r := open(t, dir, clock)
	change(t, r, demo, domain.OperatorAdd, "alice", domain.AccessAdmin, "")
	// a crash in the middle of the next write
	f, err := os.OpenFile(filepath.Join(dir, FileName), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"seq":2,"kind":"event","tenant":"demo/de`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	reader := open(t, dir, clock) // reads up to the torn line
	if list, _ := reader.List(demo); len(list) != 1 {
		t.Fatalf("reader sees %d operators", len(list))
	}
	change(t, open(t, dir, clock), demo, domain.OperatorAdd, "bob", domain.AccessAuditor, "")
	if list, err := reader.List(demo); err != nil || len(list) != 2 {
		t.Fatalf("after the next write: %+v %v", list, err)
	}
}

func TestCompactionKeepsEveryOperatorAndDropsReplacedHashes(t *testing.T) {
	dir := t.TempDir()
	clock := clocktest.New(t0)
	demo := mustTenant(t, "demo/demo")
	r := open(t, dir, clock)
	change(t, r, demo, domain.OperatorAdd, "alice", domain.AccessAdmin, "correct horse battery")
	change(t, r, demo, domain.OperatorAdd, "bob", domain.AccessAuditor, "")
	change(t, r, demo, domain.OperatorDisable, "bob", "", "")
	raw, _ := os.ReadFile(filepath.Join(dir, FileName))
	firstHash := strings.Split(strings.SplitN(string(raw), `"credential":"`, 2)[1], `"`)[0]
	_, pw := change(t, r, demo, domain.OperatorReset, "alice", "", "")
	for range compactAfter + 10 {
		clock.Advance(time.Minute)
		if err := r.RecordSignIn(demo, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	_, genBefore, _ := r.Current(demo, "alice")
	if did, err := r.Compact(); err != nil || did {
		t.Fatalf("compacted with events unpublished: %v %v", did, err)
	}
	_, last, _ := r.Unpublished()
	if err := r.MarkPublished(last); err != nil {
		t.Fatal(err)
	}
	other := open(t, dir, clock) // reads the file before the rewrite
	if did, err := r.Compact(); err != nil || !did {
		t.Fatalf("compact: %v %v", did, err)
	}
	raw, _ = os.ReadFile(filepath.Join(dir, FileName))
	if strings.Contains(string(raw), firstHash) {
		t.Fatal("the replaced password hash is still on disk")
	}
	if n := strings.Count(string(raw), "\n"); n != 3 {
		t.Fatalf("compacted journal has %d lines, want a checkpoint and two snapshots:\n%s", n, raw)
	}
	for _, reg := range []*Registry{r, other, open(t, dir, clock)} {
		list, err := reg.List(demo)
		if err != nil || len(list) != 2 || list[0].LastLoginAt == nil || !list[1].Disabled || list[1].Role != domain.AccessAuditor {
			t.Fatalf("after compaction: %+v %v", list, err)
		}
		if _, gen, _ := reg.Current(demo, "alice"); gen != genBefore {
			t.Fatalf("generation %d after compaction, was %d", gen, genBefore)
		}
		if _, _, ok, _ := reg.Verify(context.Background(), demo, "alice", pw); !ok {
			t.Fatal("alice cannot sign in after compaction")
		}
		if evs, _, _ := reg.Unpublished(); len(evs) != 0 {
			t.Fatalf("%d events unpublished after compaction", len(evs))
		}
	}
	// seqs go on from where they were: a reset after compaction gets a
	// generation no session ever had
	change(t, r, demo, domain.OperatorReset, "alice", "", "")
	if _, gen, _ := other.Current(demo, "alice"); gen <= genBefore {
		t.Fatalf("generation %d after a reset, not past %d", gen, genBefore)
	}
}

func TestPublisherCopiesEachEventOnceAcrossACrash(t *testing.T) {
	dir := t.TempDir()
	clock := clocktest.New(t0)
	demo := mustTenant(t, "demo/demo")
	store, err := embedded.Open(filepath.Join(dir, "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	r := open(t, dir, clock)
	change(t, r, demo, domain.OperatorAdd, "alice", domain.AccessAdmin, "")
	change(t, r, demo, domain.OperatorSetRole, "alice", domain.AccessAuditor, "")
	ctx := context.Background()
	pub := NewPublisher(r, store, nil)
	if n, err := pub.Publish(ctx); err != nil || n != 2 {
		t.Fatalf("publish: %d %v", n, err)
	}
	// a crash between the append and the checkpoint: the checkpoint line
	// is lost, so a restart publishes both again
	path := filepath.Join(dir, FileName)
	raw, _ := os.ReadFile(path)
	lines := strings.SplitAfter(strings.TrimSuffix(string(raw), "\n"), "\n")
	if !strings.Contains(lines[len(lines)-1], `"kind":"published"`) {
		t.Fatalf("last line is not the checkpoint: %s", lines[len(lines)-1])
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines[:len(lines)-1], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	change(t, open(t, dir, clock), demo, domain.OperatorDisable, "alice", "", "")
	r2 := open(t, dir, clock)
	if n, err := NewPublisher(r2, store, nil).Publish(ctx); err != nil || n != 3 {
		t.Fatalf("publish after the crash: %d %v", n, err)
	}
	evs, err := store.ReadStream(ctx, domain.OperatorStream(demo))
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		types = append(types, e.Type())
	}
	want := []string{domain.TypeOperatorCreated, domain.TypeOperatorRoleChanged, domain.TypeOperatorDisabled}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Fatalf("operator stream %v, want %v (each once)", types, want)
	}
	if n, err := NewPublisher(open(t, dir, clock), store, nil).Publish(ctx); err != nil || n != 0 {
		t.Fatalf("a third publisher found %d events (%v)", n, err)
	}
}
