// Package contentkeys opens the content keyring of a data directory for
// recalld and recallctl alike: the key store in DIR/keys and the KEK from,
// in this order, a key file named by --kek-file, the RECALL_KEK
// environment variable, or DIR/kek.json (created, mode 0600, on first
// use, so that `make run` needs no set-up).
package contentkeys

import (
	"fmt"
	"path/filepath"

	"github.com/recallledger/recall/adapters/kek"
	"github.com/recallledger/recall/adapters/keystore"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/keyring"
)

// DefaultKEKFile is the key file recalld creates in the data directory
// when no KEK is configured.
const DefaultKEKFile = "kek.json"

// Dir is the key store's directory in the data directory.
const Dir = "keys"

// Keys is an open keyring and the key store it keeps its keys in.
type Keys struct {
	Keyring *keyring.Keyring
	Store   *keystore.Store
	KEK     *kek.Set
	// Source says where the KEK came from, for the log: "file PATH",
	// "environment RECALL_KEK".
	Source string
}

// KEKFile is the key file the KEK comes from when none is named and the
// environment has none.
func KEKFile(data string) string { return filepath.Join(data, DefaultKEKFile) }

// LoadKEK reads the KEK: from kekFile if named, else from env's value of
// kek.EnvVar if set, else from the data directory's key file (created
// when create is true).
func LoadKEK(data, kekFile string, getenv func(string) string, create bool) (*kek.Set, string, error) {
	switch {
	case kekFile != "":
		s, err := kek.FromFile(kekFile)
		return s, "file " + kekFile, err
	case getenv != nil && getenv(kek.EnvVar) != "":
		s, err := kek.FromEnv(getenv(kek.EnvVar))
		return s, "environment " + kek.EnvVar, err
	case create:
		s, err := kek.EnsureFile(KEKFile(data))
		return s, "file " + KEKFile(data), err
	}
	s, err := kek.FromFile(KEKFile(data))
	return s, "file " + KEKFile(data), err
}

// Open opens the data directory's key store and a keyring over it with
// the KEK LoadKEK finds, asking holds before any key is destroyed (nil:
// nothing is held).
func Open(data, kekFile string, getenv func(string) string, create bool, holds domain.HoldChecker) (*Keys, error) {
	set, source, err := LoadKEK(data, kekFile, getenv, create)
	if err != nil {
		return nil, err
	}
	st, err := keystore.Open(filepath.Join(data, Dir))
	if err != nil {
		return nil, err
	}
	return &Keys{Keyring: keyring.New(st, set, holds), Store: st, KEK: set, Source: source}, nil
}

// Close closes the key store.
func (k *Keys) Close() error {
	if err := k.Store.Close(); err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	return nil
}
