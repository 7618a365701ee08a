package keystore_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/kek"
	"github.com/recallledger/recall/adapters/keystore"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/keyring"
)

var tenant, _ = domain.ParseTenant("acme/chat")

func masterKEK(t testing.TB, id string, fill byte) *kek.Set {
	t.Helper()
	s, err := kek.NewSet(id, map[string][]byte{id: bytes.Repeat([]byte{fill}, kek.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func open(t testing.TB, dir string) *keystore.Store {
	t.Helper()
	st, err := keystore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func marker(t *testing.T, err error) domain.FeedContent {
	t.Helper()
	var u *domain.ContentUnavailableError
	if !errors.As(err, &u) {
		t.Fatalf("want a ContentUnavailableError, got %v", err)
	}
	return u.Marker
}

// Both copies of a send open with their own key and purpose, and only
// there: the associated data binds tenant, message, purpose and key id,
// so a ciphertext moved to another message, purpose or tenant, or
// altered, is refused as undecryptable.
func TestSealedContentOpensOnlyWhereItWasSealed(t *testing.T) {
	ctx := context.Background()
	k := keyring.New(open(t, t.TempDir()), masterKEK(t, "k1", 1), nil)
	live, audit, err := k.Seal(ctx, tenant, "m1", "the plan")
	if err != nil {
		t.Fatal(err)
	}
	if live.KeyID == audit.KeyID || bytes.Equal(live.Ciphertext, audit.Ciphertext) || bytes.Contains(live.Ciphertext, []byte("the plan")) {
		t.Fatalf("two copies under one key, or plaintext in the ciphertext: %+v %+v", live, audit)
	}
	for _, c := range []struct {
		purpose domain.KeyPurpose
		s       domain.SealedContent
	}{{domain.PurposeLive, live}, {domain.PurposeAudit, audit}} {
		if got, err := k.Open(ctx, tenant, "m1", c.purpose, c.s); err != nil || got != "the plan" {
			t.Fatalf("%s copy opens as %q, %v", c.purpose, got, err)
		}
	}
	other, _ := domain.ParseTenant("other/app")
	tampered := live
	tampered.Ciphertext = slices.Clone(live.Ciphertext)
	tampered.Ciphertext[len(tampered.Ciphertext)-1] ^= 1
	refused := []struct {
		name    string
		t       domain.Tenant
		msg     domain.MsgID
		purpose domain.KeyPurpose
		s       domain.SealedContent
		want    domain.FeedContent
	}{
		{"moved to another message", tenant, "m2", domain.PurposeLive, live, domain.ContentUndecryptable},
		{"read as the other copy", tenant, "m1", domain.PurposeAudit, live, domain.ContentUndecryptable},
		{"altered", tenant, "m1", domain.PurposeLive, tampered, domain.ContentUndecryptable},
		{"truncated", tenant, "m1", domain.PurposeLive, domain.SealedContent{KeyID: live.KeyID, Ciphertext: live.Ciphertext[:5]}, domain.ContentUndecryptable},
		{"in another tenant", other, "m1", domain.PurposeLive, live, domain.ContentKeyUnavailable},
		{"under a key never held", tenant, "m1", domain.PurposeLive, domain.SealedContent{KeyID: "00ff", Ciphertext: live.Ciphertext}, domain.ContentKeyUnavailable},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			got, err := k.Open(ctx, c.t, c.msg, c.purpose, c.s)
			if got != "" || marker(t, err) != c.want {
				t.Fatalf("opened as %q, %v; want refused as %s", got, err, c.want)
			}
		})
	}
	// a key store read under another KEK than the one that wrapped it
	stranger := keyring.New(open(t, t.TempDir()), masterKEK(t, "k1", 2), nil)
	if _, err := stranger.Open(ctx, tenant, "m1", domain.PurposeLive, live); marker(t, err) != domain.ContentKeyUnavailable {
		t.Fatalf("another store: %v", err)
	}
}

// filesContain reports which files under dir hold b.
func filesContain(t *testing.T, dir string, b []byte) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, b) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// Shredding destroys a key for good: it reads as shredded (not as never
// held), shredding again is a no-op, a Put of its id is refused, a rewrap
// leaves it destroyed — and after a flush and a full compaction its
// wrapped bytes are in no file of the store, while a key kept beside it
// still is.
func TestShreddedKeyIsGoneFromEveryFileAfterCompaction(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := open(t, dir)
	k := keyring.New(st, masterKEK(t, "k1", 1), nil)
	live, audit, err := k.Seal(ctx, tenant, "m1", "recalled text")
	if err != nil {
		t.Fatal(err)
	}
	keptLive, _, err := k.Seal(ctx, tenant, "m2", "kept text")
	if err != nil {
		t.Fatal(err)
	}
	wrapped := func(id string) []byte {
		w, state, err := st.Get(ctx, tenant, id)
		if err != nil || state != domain.KeyLive {
			t.Fatalf("key %s: %v %v", id, state, err)
		}
		return w.Blob
	}
	doomedLive, doomedAudit, kept := wrapped(live.KeyID), wrapped(audit.KeyID), wrapped(keptLive.KeyID)
	if err := st.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(filesContain(t, dir, doomedLive)) == 0 {
		t.Fatal("the wrapped key is in no file before it is shredded: the scan below would prove nothing")
	}

	ref := domain.ContentRef{Tenant: tenant, MsgID: "m1", From: "alice", SentAt: time.Now()}
	out, err := k.Shred(ctx, ref, domain.ShredRecall, live.KeyID, audit.KeyID)
	if err != nil || out.Destroyed != 2 || out.Held() {
		t.Fatalf("shred: %+v %v", out, err)
	}
	for _, s := range []domain.SealedContent{live, audit} {
		if _, err := k.Open(ctx, tenant, "m1", domain.PurposeLive, s); marker(t, err) != domain.ContentShredded {
			t.Fatalf("after the shred: %v", err)
		}
	}
	if out, err := k.Shred(ctx, ref, domain.ShredRecall, live.KeyID); err != nil || out.Destroyed != 1 {
		t.Fatalf("shred again: %+v %v", out, err)
	}
	if err := st.Put(ctx, tenant, []domain.StoredKey{{ID: live.KeyID, Wrapped: domain.WrappedKey{KEKID: "k1", Blob: doomedLive}}}); err == nil {
		t.Fatal("a destroyed key's id was put again")
	}
	if _, err := k.Rewrap(ctx); err != nil {
		t.Fatal(err)
	}
	if _, state, _ := st.Get(ctx, tenant, live.KeyID); state != domain.KeyDestroyed {
		t.Fatalf("after a rewrap the destroyed key is %v", state)
	}

	if err := st.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"live": doomedLive, "audit": doomedAudit} {
		if files := filesContain(t, dir, b); len(files) > 0 {
			t.Errorf("the shredded %s key's wrapped bytes are still in %v", name, files)
		}
	}
	if len(filesContain(t, dir, kept)) == 0 {
		t.Error("the key that was kept is gone too")
	}
	st = open(t, dir)
	if _, state, err := st.Get(ctx, tenant, live.KeyID); err != nil || state != domain.KeyDestroyed {
		t.Fatalf("after reopening: %v %v", state, err)
	}
}

// heldBy holds every message of one sender.
type heldBy struct{ from domain.UserID }

func (h heldBy) Held(_ context.Context, ref domain.ContentRef) ([]string, error) {
	if ref.From == h.from {
		return []string{"hold-1", "hold-2"}, nil
	}
	return nil, nil
}

type unknownHolds struct{}

func (unknownHolds) Held(context.Context, domain.ContentRef) ([]string, error) {
	return nil, errors.New("hold read model unavailable")
}

// Every destroyer asks the hold checker first: held content keeps its
// keys and the outcome names the holds; a checker that cannot answer
// destroys nothing; ShredAll destroys the rest in one write.
func TestShredAsksTheHoldsFirst(t *testing.T) {
	ctx := context.Background()
	st := open(t, t.TempDir())
	k := keyring.New(st, masterKEK(t, "k1", 1), heldBy{from: "mallory"})
	seal := func(msg domain.MsgID) domain.SealedContent {
		live, _, err := k.Seal(ctx, tenant, msg, "text of "+string(msg))
		if err != nil {
			t.Fatal(err)
		}
		return live
	}
	held, free := seal("m-held"), seal("m-free")
	outs, err := k.ShredAll(ctx, []keyring.ShredItem{
		{Ref: domain.ContentRef{Tenant: tenant, MsgID: "m-held", From: "mallory"}, KeyIDs: []string{held.KeyID}},
		{Ref: domain.ContentRef{Tenant: tenant, MsgID: "m-free", From: "alice"}, KeyIDs: []string{free.KeyID}},
	}, domain.ShredErasure)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(outs[0].HeldBy, []string{"hold-1", "hold-2"}) || outs[0].Destroyed != 0 || outs[1].Held() || outs[1].Destroyed != 1 {
		t.Fatalf("outcomes %+v", outs)
	}
	if got, err := k.Open(ctx, tenant, "m-held", domain.PurposeLive, held); err != nil || got != "text of m-held" {
		t.Fatalf("held content: %q %v", got, err)
	}
	if _, err := k.Open(ctx, tenant, "m-free", domain.PurposeLive, free); marker(t, err) != domain.ContentShredded {
		t.Fatalf("free content: %v", err)
	}
	k.SetHoldChecker(unknownHolds{})
	if _, err := k.Shred(ctx, domain.ContentRef{Tenant: tenant, MsgID: "m-held", From: "mallory"}, domain.ShredRecall, held.KeyID); err == nil {
		t.Fatal("shredded while the holds were unknown")
	}
	if _, err := k.Open(ctx, tenant, "m-held", domain.PurposeLive, held); err != nil {
		t.Fatalf("after the refused shred: %v", err)
	}
}
