package keystore_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/keyring"
)

// content is a typical message body: the size of the 316-byte event the
// design's figures use.
var content = string(bytes.Repeat([]byte("hello, world "), 16))

// keptAside is a key store that keeps nothing: it isolates the cost of
// the encryption (two data keys, two seals, two wraps) from the key
// store's synced write, which BenchmarkSealSend measures on pebble.
type keptAside struct{}

func (keptAside) Put(context.Context, domain.Tenant, []domain.StoredKey) error { return nil }
func (keptAside) Get(context.Context, domain.Tenant, string) (domain.WrappedKey, domain.KeyState, error) {
	return domain.WrappedKey{}, domain.KeyUnknown, nil
}
func (keptAside) Destroy(context.Context, domain.Tenant, []string, domain.ShredReason) (int, error) {
	return 0, nil
}
func (keptAside) Rewrap(context.Context, func(domain.Tenant, domain.StoredKey) (domain.WrappedKey, bool, error)) (int, error) {
	return 0, nil
}

// BenchmarkSealEncryption is what encrypting a send costs (target ≤ 5 µs):
// both copies, both keys wrapped, nothing stored.
func BenchmarkSealEncryption(b *testing.B) {
	k := keyring.New(keptAside{}, masterKEK(b, "k1", 1), nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := k.Seal(ctx, tenant, "m1", content); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealSend is a send's whole sealing: the encryption and the
// synced write of its two keys to the pebble key store, one writer.
func BenchmarkSealSend(b *testing.B) {
	st := open(b, b.TempDir())
	k := keyring.New(st, masterKEK(b, "k1", 1), nil)
	ctx := context.Background()
	for b.Loop() {
		if _, _, err := k.Seal(ctx, tenant, "m1", content); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkContentAEAD compares the two AEADs the design allowed for
// content, each with a fresh key per message as the keyring uses them
// (the key schedule is part of every seal).
func BenchmarkContentAEAD(b *testing.B) {
	key := make([]byte, 32)
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	_, _ = rand.Read(key)
	plain := []byte(content)
	out := make([]byte, 0, len(plain)+64)
	b.Run("aes-256-gcm", func(b *testing.B) {
		for b.Loop() {
			block, _ := aes.NewCipher(key)
			g, _ := cipher.NewGCM(block)
			out = g.Seal(out[:0], nonce[:12], plain, []byte("ad"))
		}
	})
	b.Run("xchacha20-poly1305", func(b *testing.B) {
		for b.Loop() {
			x, _ := chacha20poly1305.NewX(key)
			out = x.Seal(out[:0], nonce, plain, []byte("ad"))
		}
	})
}
