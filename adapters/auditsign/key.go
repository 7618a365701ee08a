// Package auditsign signs the audit log's checkpoints with the
// deployment's ed25519 key, off the append path: the key file in the data
// directory, the background loop that signs each tenant's tree every N
// entries or T seconds (and on request), the store of every checkpoint it
// signed, and their publication to a JSON-lines file (and a hook the
// server points at NATS) that the operator ships out of the ledger's
// reach.
package auditsign

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"golang.org/x/mod/sumdb/note"
)

// KeyFile is the key's file in the data directory, mode 0600.
const KeyFile = "audit-key.json"

// keyFile is KeyFile's content: the current key and every retired one,
// each with the rotation statement that retired it.
type keyFile struct {
	Name        string       `json:"name"`
	SigningKey  string       `json:"signing_key"`
	VerifierKey string       `json:"verifier_key"`
	CreatedAt   string       `json:"created_at"`
	Retired     []retiredKey `json:"retired,omitempty"`
}

type retiredKey struct {
	VerifierKey string `json:"verifier_key"`
	RetiredAt   string `json:"retired_at"`
	// Rotation is a note signed by the retired key and its successor:
	// "recall-ledger audit key rotation\n<old verifier key>\n<new verifier key>\n".
	Rotation string `json:"rotation"`
}

// Key is the deployment's signing key, as the key file holds it.
type Key struct {
	Name     string
	Signer   note.Signer
	Verifier string   // the current verifier key
	Retired  []string // verifier keys of earlier keys, oldest first
	// Rotations are the statements that retired them, in the same order.
	Rotations []string
}

// VerifierKeys are every verifier key the deployment has signed with,
// oldest first: what an auditor keeps so that old checkpoints verify too.
func (k *Key) VerifierKeys() []string { return append(append([]string(nil), k.Retired...), k.Verifier) }

// ErrNoKey is a data directory whose recalld never started.
var ErrNoKey = errors.New("no audit signing key yet: recalld makes it on its first start in this data directory")

// DefaultKeyName names a new deployment's key when the operator names none:
// unique, so two deployments' logs never share an origin.
func DefaultKeyName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return "recall-ledger-" + hex.EncodeToString(b)
}

// CheckKeyName refuses a name a signed note cannot carry.
func CheckKeyName(name string) error {
	if name == "" || strings.ContainsRune(name, '+') || strings.ContainsRune(name, '/') || strings.IndexFunc(name, unicode.IsSpace) >= 0 {
		return fmt.Errorf("audit key name %q: want a non-empty name without spaces, '+' or '/'", name)
	}
	return nil
}

// LoadKey reads the data directory's key.
func LoadKey(dataDir string) (*Key, error) {
	f, err := readKeyFile(dataDir)
	if err != nil {
		return nil, err
	}
	return f.key()
}

// LoadOrCreateKey reads the data directory's key, making one named name
// (DefaultKeyName when empty) on the first start. A later start with
// another name keeps the key it has: a log's origin never changes.
func LoadOrCreateKey(dataDir, name string) (*Key, bool, error) {
	k, err := LoadKey(dataDir)
	if !errors.Is(err, ErrNoKey) {
		return k, false, err
	}
	if name == "" {
		name = DefaultKeyName()
	}
	if err := CheckKeyName(name); err != nil {
		return nil, false, err
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return nil, false, fmt.Errorf("audit key: %w", err)
	}
	f := &keyFile{Name: name, SigningKey: skey, VerifierKey: vkey, CreatedAt: time.Now().UTC().Format(time.RFC3339)}
	if err := writeKeyFile(dataDir, f, true); err != nil {
		return nil, false, err
	}
	k, err = f.key()
	return k, true, err
}

// RotateKey replaces the signing key with a new one of the same name. The
// old verifier key stays in the file (and in `recallctl audit key`'s
// list), so checkpoints it signed still verify, with a rotation statement
// signed by both keys.
func RotateKey(dataDir string) (*Key, error) {
	f, err := readKeyFile(dataDir)
	if err != nil {
		return nil, err
	}
	old, err := f.key()
	if err != nil {
		return nil, err
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, f.Name)
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	next, err := note.NewSigner(skey)
	if err != nil {
		return nil, err
	}
	statement, err := note.Sign(&note.Note{Text: "recall-ledger audit key rotation\n" + f.VerifierKey + "\n" + vkey + "\n"}, old.Signer, next)
	if err != nil {
		return nil, fmt.Errorf("audit key rotation statement: %w", err)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	f.Retired = append(f.Retired, retiredKey{VerifierKey: f.VerifierKey, RetiredAt: now, Rotation: string(statement)})
	f.SigningKey, f.VerifierKey, f.CreatedAt = skey, vkey, now
	if err := writeKeyFile(dataDir, f, false); err != nil {
		return nil, err
	}
	return f.key()
}

func (f *keyFile) key() (*Key, error) {
	s, err := note.NewSigner(f.SigningKey)
	if err != nil {
		return nil, fmt.Errorf("audit key file: signing key: %w", err)
	}
	if s.Name() != f.Name {
		return nil, fmt.Errorf("audit key file: the signing key is named %q, the file says %q", s.Name(), f.Name)
	}
	k := &Key{Name: f.Name, Signer: s, Verifier: f.VerifierKey}
	for _, r := range f.Retired {
		k.Retired = append(k.Retired, r.VerifierKey)
		k.Rotations = append(k.Rotations, r.Rotation)
	}
	return k, nil
}

func readKeyFile(dataDir string) (*keyFile, error) {
	path := filepath.Join(dataDir, KeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (%s)", ErrNoKey, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read audit key: %w", err)
	}
	var f keyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("read audit key %s: %w", path, err)
	}
	return &f, nil
}

// writeKeyFile writes the key file whole (a temporary file renamed over
// it, synced), mode 0600. exclusive refuses to replace an existing file:
// two first starts never make two keys.
func writeKeyFile(dataDir string, f *keyFile, exclusive bool) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dataDir, KeyFile)
	tmp, err := os.CreateTemp(dataDir, ".audit-key-*")
	if err != nil {
		return fmt.Errorf("write audit key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err == nil {
		if _, err = tmp.Write(data); err == nil {
			err = tmp.Sync()
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && exclusive {
		err = os.Link(tmp.Name(), path) // fails if it exists
	} else if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write audit key %s: %w", path, err)
	}
	if d, err := os.Open(dataDir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("write audit key: sync %s: %w", dataDir, err)
		}
	}
	return nil
}
