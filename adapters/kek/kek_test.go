package kek_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recallledger/recall/adapters/kek"
	"github.com/recallledger/recall/adapters/keystore"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/keyring"
)

var tenant, _ = domain.ParseTenant("acme/chat")

// A key file others can read is refused, as ssh refuses such a private
// key; mode 0600 is read.
func TestKeyFileMustBeTheOwnersAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek.json")
	if _, err := kek.EnsureFile(path); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("created with mode %v, %v", info.Mode().Perm(), err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := kek.FromFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable key file: %v", err)
	}
}

// The environment variable names its keys, the first one current; bad
// values are refused with the entry named.
func TestKEKFromTheEnvironment(t *testing.T) {
	k1 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, kek.KeySize))
	k2 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, kek.KeySize))
	s, err := kek.FromEnv("new=" + k2 + ", old=" + k1)
	if err != nil {
		t.Fatal(err)
	}
	if ids := s.IDs(); len(ids) != 2 || ids[0] != "new" || s.CurrentID(tenant) != "new" {
		t.Fatalf("ids %v", ids)
	}
	for _, bad := range []string{"", "new", "new=!!", "new=" + k1[:10], "a b=" + k1} {
		if _, err := kek.FromEnv(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Each tenant has its own KEK derived from the master key: a key wrapped
// for one tenant does not unwrap for another, nor under other associated
// data.
func TestTenantsDoNotShareAKEK(t *testing.T) {
	ctx := context.Background()
	s, err := kek.NewSet("k", map[string][]byte{"k": bytes.Repeat([]byte{7}, kek.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	dek := bytes.Repeat([]byte{9}, 32)
	w, err := s.Wrap(ctx, tenant, dek, []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Unwrap(ctx, tenant, w, []byte("ad")); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("unwrap: %v", err)
	}
	other, _ := domain.ParseTenant("other/app")
	var u *domain.ContentUnavailableError
	if _, err := s.Unwrap(ctx, other, w, []byte("ad")); !errors.As(err, &u) {
		t.Fatalf("another tenant unwrapped it: %v", err)
	}
	if _, err := s.Unwrap(ctx, tenant, w, []byte("other ad")); !errors.As(err, &u) {
		t.Fatalf("other associated data unwrapped it: %v", err)
	}
}

// Rotation: after a new KEK is added, content sealed under the old one
// still opens; a rewrap moves every live key to the new KEK, after which
// the old one can be removed and everything still opens.
func TestKEKRotationKeepsContentReadable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "kek.json")
	old, err := kek.EnsureFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := keystore.Open(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	live, _, err := keyring.New(st, old, nil).Seal(ctx, tenant, "m1", "before the rotation")
	if err != nil {
		t.Fatal(err)
	}
	newID, err := kek.AddKey(path)
	if err != nil {
		t.Fatal(err)
	}
	both, err := kek.FromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k := keyring.New(st, both, nil)
	if got, err := k.Open(ctx, tenant, "m1", domain.PurposeLive, live); err != nil || got != "before the rotation" {
		t.Fatalf("after adding a KEK: %q %v", got, err)
	}
	if n, err := k.Rewrap(ctx); err != nil || n != 2 {
		t.Fatalf("rewrap: %d %v (want the live and the audit key)", n, err)
	}
	if n, err := k.Rewrap(ctx); err != nil || n != 0 {
		t.Fatalf("a second rewrap: %d %v", n, err)
	}
	if w, _, _ := st.Get(ctx, tenant, live.KeyID); w.KEKID != newID {
		t.Fatalf("wrapped by %s, want %s", w.KEKID, newID)
	}
	if err := kek.RemoveKey(path, old.IDs()[0]); err != nil {
		t.Fatal(err)
	}
	if err := kek.RemoveKey(path, newID); err == nil {
		t.Fatal("the current KEK was removed")
	}
	only, err := kek.FromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := keyring.New(st, only, nil).Open(ctx, tenant, "m1", domain.PurposeLive, live); err != nil || got != "before the rotation" {
		t.Fatalf("with only the new KEK: %q %v", got, err)
	}
}
