// Package kek provides the tenants' key-encryption keys (domain.KEKProvider)
// from master keys held locally: a key file (mode 0600, FromFile) or an
// environment variable (FromEnv). Each tenant's KEK is derived from the
// master key with HKDF-SHA256 (info names the tenant), so one secret
// serves every tenant and no two tenants share a KEK; a KMS adapter can
// replace this package behind the same port.
//
// Data keys are wrapped with XChaCha20-Poly1305 (golang.org/x/crypto):
// one KEK wraps every data key of its tenant, billions of them, and its
// 192-bit random nonces never collide at that count (GCM's 96-bit random
// nonces would be past their safe bound).
//
// Rotation: a key set holds several master keys by id and names the
// current one. New data keys are wrapped under the current one; a wrapped
// key names its KEK's id, so the older keys still unwrap what they
// wrapped until `recallctl keys rotate-kek` has rewrapped everything
// (keyring.Rewrap) and they are removed.
package kek

import (
	"context"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/recallledger/recall/domain"
)

// EnvVar is the environment variable FromEnv reads: comma-separated
// id=base64 master keys, the first one current
// ("kek-b=…,kek-a=…").
const EnvVar = "RECALL_KEK"

// KeySize is a master key's size in bytes.
const KeySize = 32

// Set is a set of master keys by id, one of them current. It implements
// domain.KEKProvider. Safe for concurrent use.
type Set struct {
	current string
	keys    map[string][]byte

	mu    sync.Mutex
	aeads map[string]cipher.AEAD // "kekID\x00tenant" → the tenant's derived KEK
}

// NewSet returns a set of keys with current named.
func NewSet(current string, keys map[string][]byte) (*Set, error) {
	if len(keys) == 0 {
		return nil, errors.New("kek: no master key")
	}
	for id, k := range keys {
		if err := checkID(id); err != nil {
			return nil, err
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("kek %s: %d bytes, want %d", id, len(k), KeySize)
		}
	}
	if _, ok := keys[current]; !ok {
		return nil, fmt.Errorf("kek: the current key %q is not in the set", current)
	}
	return &Set{current: current, keys: keys, aeads: map[string]cipher.AEAD{}}, nil
}

func checkID(id string) error {
	if id == "" || len(id) > 64 || strings.ContainsAny(id, "=,\x00 \t\n") {
		return fmt.Errorf("kek id %q: want 1 to 64 characters without '=', ',' or spaces", id)
	}
	return nil
}

// CurrentID implements domain.KEKProvider.
func (s *Set) CurrentID(domain.Tenant) string { return s.current }

// IDs lists the set's key ids, the current one first.
func (s *Set) IDs() []string {
	ids := []string{s.current}
	for id := range s.keys {
		if id != s.current {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids[1:])
	return ids
}

// tenantKEK is the tenant's KEK derived from master key id.
func (s *Set) tenantKEK(id string, t domain.Tenant) (cipher.AEAD, bool, error) {
	cacheKey := id + "\x00" + t.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.aeads[cacheKey]; ok {
		return a, true, nil
	}
	master, ok := s.keys[id]
	if !ok {
		return nil, false, nil
	}
	k, err := hkdf.Key(sha256.New, master, nil, "recall-ledger/tenant-kek/v1\x00"+t.String(), chacha20poly1305.KeySize)
	if err != nil {
		return nil, false, err
	}
	a, err := chacha20poly1305.NewX(k)
	if err != nil {
		return nil, false, err
	}
	s.aeads[cacheKey] = a
	return a, true, nil
}

// Wrap implements domain.KEKProvider: dek under the tenant's current KEK.
func (s *Set) Wrap(_ context.Context, t domain.Tenant, dek, ad []byte) (domain.WrappedKey, error) {
	a, _, err := s.tenantKEK(s.current, t)
	if err != nil {
		return domain.WrappedKey{}, err
	}
	blob := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+len(dek)+chacha20poly1305.Overhead)
	if _, err := rand.Read(blob); err != nil {
		return domain.WrappedKey{}, err
	}
	return domain.WrappedKey{KEKID: s.current, Blob: a.Seal(blob, blob, dek, ad)}, nil
}

// Unwrap implements domain.KEKProvider. A key wrapped by a KEK this set
// does not hold, or that does not open, is a
// *domain.ContentUnavailableError (key_unavailable).
func (s *Set) Unwrap(_ context.Context, t domain.Tenant, w domain.WrappedKey, ad []byte) ([]byte, error) {
	a, ok, err := s.tenantKEK(w.KEKID, t)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &domain.ContentUnavailableError{Marker: domain.ContentKeyUnavailable, Cause: fmt.Errorf("no KEK %q here", w.KEKID)}
	}
	if len(w.Blob) < chacha20poly1305.NonceSizeX {
		return nil, &domain.ContentUnavailableError{Marker: domain.ContentKeyUnavailable, Cause: errors.New("wrapped key too short")}
	}
	dek, err := a.Open(nil, w.Blob[:chacha20poly1305.NonceSizeX], w.Blob[chacha20poly1305.NonceSizeX:], ad)
	if err != nil {
		return nil, &domain.ContentUnavailableError{Marker: domain.ContentKeyUnavailable, Cause: fmt.Errorf("KEK %s does not unwrap it: %w", w.KEKID, err)}
	}
	return dek, nil
}

// file is the key file's JSON.
type file struct {
	Current string            `json:"current"`
	Keys    map[string]string `json:"keys"` // id → base64 (standard) master key
}

// FromFile reads a key file. The file must be readable by its owner only
// (mode 0600 or stricter), as ssh insists for private keys.
func FromFile(path string) (*Set, error) {
	f, err := readFile(path)
	if err != nil {
		return nil, err
	}
	keys := map[string][]byte{}
	for id, b64 := range f.Keys {
		k, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("kek file %s: key %s: %w", path, id, err)
		}
		keys[id] = k
	}
	s, err := NewSet(f.Current, keys)
	if err != nil {
		return nil, fmt.Errorf("kek file %s: %w", path, err)
	}
	return s, nil
}

func readFile(path string) (file, error) {
	var f file
	info, err := os.Stat(path)
	if err != nil {
		return f, fmt.Errorf("kek file: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return f, fmt.Errorf("kek file %s: mode %#o lets others read it; chmod 600 it", path, info.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("kek file: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("kek file %s: %w", path, err)
	}
	return f, nil
}

// FromEnv reads the master keys from the value of EnvVar: id=base64
// pairs separated by commas, the first one current.
func FromEnv(value string) (*Set, error) {
	keys := map[string][]byte{}
	current := ""
	for i, pair := range strings.Split(strings.TrimSpace(value), ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			return nil, fmt.Errorf("%s: entry %d: want id=base64", EnvVar, i+1)
		}
		k, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("%s: key %s: %w", EnvVar, id, err)
		}
		if i == 0 {
			current = id
		}
		keys[id] = k
	}
	s, err := NewSet(current, keys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvVar, err)
	}
	return s, nil
}

// EnsureFile creates a key file with one new master key at path when
// there is none, and reads it. recalld does this in the data directory
// when no KEK is configured, so that `make run` needs no set-up.
func EnsureFile(path string) (*Set, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if _, err := AddKey(path); err != nil {
			return nil, err
		}
	}
	return FromFile(path)
}

// AddKey adds a new random master key to the key file at path (creating
// it) and makes it current; the older keys stay, to unwrap what they
// wrapped. It returns the new key's id. The file is replaced atomically.
func AddKey(path string) (string, error) {
	f := file{Keys: map[string]string{}}
	if _, err := os.Stat(path); err == nil {
		if f, err = readFile(path); err != nil {
			return "", err
		}
		if f.Keys == nil {
			f.Keys = map[string]string{}
		}
	}
	var raw [KeySize + 4]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	id := "kek-" + hex.EncodeToString(raw[KeySize:])
	f.Keys[id] = base64.StdEncoding.EncodeToString(raw[:KeySize])
	f.Current = id
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", err
	}
	return id, writeAtomic(path, append(b, '\n'))
}

// RemoveKey removes the key id from the key file; the current key cannot
// be removed.
func RemoveKey(path, id string) error {
	f, err := readFile(path)
	if err != nil {
		return err
	}
	if id == f.Current {
		return fmt.Errorf("kek file %s: %s is the current key", path, id)
	}
	if _, ok := f.Keys[id]; !ok {
		return fmt.Errorf("kek file %s: no key %s", path, id)
	}
	delete(f.Keys, id)
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(path, append(b, '\n'))
}

// writeAtomic writes b to path by a synced temporary file renamed over it,
// mode 0600.
func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("kek file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".kek-*")
	if err != nil {
		return fmt.Errorf("kek file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("kek file: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("kek file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("kek file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("kek file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("kek file: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("kek file: %w", err)
	}
	defer d.Close()
	return d.Sync()
}
