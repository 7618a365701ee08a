// Package keyring is the envelope around message content: it seals a
// send's content under two fresh data keys (live and audit), wraps each
// key with the tenant's KEK and keeps it in the key store; it opens sealed
// content at the edge; and it is the one place that destroys data keys
// (Shred), asking the legal-hold checker first.
//
// Content is sealed with AES-256-GCM (crypto/aes, crypto/cipher): each
// data key seals exactly one plaintext, so GCM's random 96-bit nonce can
// never repeat under a key, and AES-NI makes it the cheaper of the two
// AEADs the design allowed (bench_test.go measures both). The associated
// data binds the tenant, the message id, the copy's purpose and the key
// id, so a ciphertext moved to another message does not open.
//
// It does no I/O of its own: storage is the DataKeyStore port, key
// material the KEKProvider port, holds the HoldChecker port; randomness
// comes from the reader it is given (crypto/rand in production).
package keyring

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/recallledger/recall/domain"
)

const (
	dekSize   = 32 // AES-256
	nonceSize = 12 // GCM's standard nonce
	keyIDSize = 16 // random bytes of a key id (hex: 32 characters)
)

// Keyring seals, opens and shreds message content. Safe for concurrent use.
type Keyring struct {
	store domain.DataKeyStore
	kek   domain.KEKProvider
	holds domain.HoldChecker
	rand  io.Reader
}

// New returns a keyring over the key store, the KEK provider and the hold
// checker (nil: domain.NoHolds).
func New(store domain.DataKeyStore, kek domain.KEKProvider, holds domain.HoldChecker) *Keyring {
	if holds == nil {
		holds = domain.NoHolds{}
	}
	return &Keyring{store: store, kek: kek, holds: holds, rand: rand.Reader}
}

// SetHoldChecker replaces the hold checker: the legal-hold read model is
// opened after the keyring, whose ledger it follows.
func (k *Keyring) SetHoldChecker(h domain.HoldChecker) { k.holds = h }

// contentAD is the associated data of a sealed copy.
func contentAD(t domain.Tenant, id domain.MsgID, purpose domain.KeyPurpose, keyID string) []byte {
	return fmt.Appendf(nil, "recall-ledger/content/v1\x00%s\x00%s\x00%s\x00%s", t, id, purpose, keyID)
}

// wrapAD is the associated data a data key is wrapped with.
func wrapAD(t domain.Tenant, keyID string) []byte {
	return fmt.Appendf(nil, "recall-ledger/dek/v1\x00%s\x00%s", t, keyID)
}

// Seal seals content for message id twice, under a new live key and a new
// audit key, and stores both keys (durably, in one write) before it
// returns: a send is appended only once its keys are kept.
func (k *Keyring) Seal(ctx context.Context, t domain.Tenant, id domain.MsgID, content string) (live, audit domain.SealedContent, err error) {
	// one read of the random source for both keys, both ids, both nonces
	var buf [2 * (dekSize + keyIDSize + nonceSize)]byte
	if _, err := io.ReadFull(k.rand, buf[:]); err != nil {
		return live, audit, fmt.Errorf("seal %s: random: %w", id, err)
	}
	keys := make([]domain.StoredKey, 2)
	out := [2]*domain.SealedContent{&live, &audit}
	for i, purpose := range [2]domain.KeyPurpose{domain.PurposeLive, domain.PurposeAudit} {
		part := buf[i*(dekSize+keyIDSize+nonceSize):]
		dek, idBytes, nonce := part[:dekSize], part[dekSize:dekSize+keyIDSize], part[dekSize+keyIDSize:dekSize+keyIDSize+nonceSize]
		keyID := hex.EncodeToString(idBytes)
		ct, err := sealWith(dek, nonce, []byte(content), contentAD(t, id, purpose, keyID))
		if err != nil {
			return live, audit, fmt.Errorf("seal %s: %w", id, err)
		}
		w, err := k.kek.Wrap(ctx, t, dek, wrapAD(t, keyID))
		if err != nil {
			return live, audit, fmt.Errorf("seal %s: wrap the %s key: %w", id, purpose, err)
		}
		keys[i] = domain.StoredKey{ID: keyID, Wrapped: w}
		*out[i] = domain.SealedContent{KeyID: keyID, Ciphertext: ct}
	}
	clear(buf[:])
	if err := k.store.Put(ctx, t, keys); err != nil {
		return domain.SealedContent{}, domain.SealedContent{}, fmt.Errorf("seal %s: keep its keys: %w", id, err)
	}
	return live, audit, nil
}

// sealWith encrypts plaintext under dek with AES-256-GCM: nonce, then the
// ciphertext and its tag.
func sealWith(dek, nonce, plaintext, ad []byte) ([]byte, error) {
	aead, err := gcm(dek)
	if err != nil {
		return nil, err
	}
	out := make([]byte, nonceSize, nonceSize+len(plaintext)+aead.Overhead())
	copy(out, nonce)
	return aead.Seal(out, nonce, plaintext, ad), nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Open implements domain.ContentOpener: the content s seals, or a
// *domain.ContentUnavailableError when its key is destroyed, not held
// here, not unwrapped by any KEK here, or does not open s (an altered
// ciphertext, or one moved from another message).
func (k *Keyring) Open(ctx context.Context, t domain.Tenant, id domain.MsgID, purpose domain.KeyPurpose, s domain.SealedContent) (string, error) {
	w, state, err := k.store.Get(ctx, t, s.KeyID)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", id, err)
	}
	switch state {
	case domain.KeyDestroyed:
		return "", &domain.ContentUnavailableError{Marker: domain.ContentShredded, KeyID: s.KeyID}
	case domain.KeyUnknown:
		return "", &domain.ContentUnavailableError{Marker: domain.ContentKeyUnavailable, KeyID: s.KeyID}
	}
	dek, err := k.kek.Unwrap(ctx, t, w, wrapAD(t, s.KeyID))
	if err != nil {
		var unavailable *domain.ContentUnavailableError
		if errors.As(err, &unavailable) {
			return "", err
		}
		return "", fmt.Errorf("open %s: %w", id, err)
	}
	defer clear(dek)
	if len(s.Ciphertext) < nonceSize {
		return "", &domain.ContentUnavailableError{Marker: domain.ContentUndecryptable, KeyID: s.KeyID, Cause: errors.New("ciphertext too short")}
	}
	aead, err := gcm(dek)
	if err != nil {
		return "", &domain.ContentUnavailableError{Marker: domain.ContentUndecryptable, KeyID: s.KeyID, Cause: err}
	}
	plain, err := aead.Open(nil, s.Ciphertext[:nonceSize], s.Ciphertext[nonceSize:], contentAD(t, id, purpose, s.KeyID))
	if err != nil {
		return "", &domain.ContentUnavailableError{Marker: domain.ContentUndecryptable, KeyID: s.KeyID, Cause: err}
	}
	return string(plain), nil
}

// ShredOutcome is what one Shred did.
type ShredOutcome struct {
	// Destroyed counts the keys named that are destroyed now, by this
	// call or an earlier one (0 when a hold kept them).
	Destroyed int
	// HeldBy names the legal holds covering the content, in the checker's
	// order; when it is not empty nothing was destroyed.
	HeldBy []string
}

// Held reports whether a hold kept the keys.
func (o ShredOutcome) Held() bool { return len(o.HeldBy) > 0 }

// Shred destroys the data keys keyIDs of the content ref names, for
// reason — unless a legal hold covers ref: then nothing is destroyed and
// the outcome names the holds. It is the one function every destroyer of
// content calls (recall, expiry, retention, erasure), alone or through
// ShredAll. The keys go in one atomic, durable write: after a crash each
// is either kept or destroyed. Shredding keys already destroyed (or never
// held) is a no-op: a replay of the log shreds again safely. An error
// from the hold checker destroys nothing.
func (k *Keyring) Shred(ctx context.Context, ref domain.ContentRef, reason domain.ShredReason, keyIDs ...string) (ShredOutcome, error) {
	out, err := k.ShredAll(ctx, []ShredItem{{Ref: ref, KeyIDs: keyIDs}}, reason)
	if err != nil {
		return ShredOutcome{}, err
	}
	return out[0], nil
}

// ShredItem is one message's keys to destroy.
type ShredItem struct {
	Ref    domain.ContentRef
	KeyIDs []string
}

// ShredAll is Shred of many messages at once: each is asked of the hold
// checker, and the keys of those no hold covers are destroyed in one
// atomic, durable write per tenant (so retention or an erasure of 100,000
// messages waits for a few disk syncs, not 100,000). Its outcomes are in
// the items' order.
func (k *Keyring) ShredAll(ctx context.Context, items []ShredItem, reason domain.ShredReason) ([]ShredOutcome, error) {
	out := make([]ShredOutcome, len(items))
	var order []domain.Tenant
	byTenant := map[domain.Tenant][]int{}
	for i, it := range items {
		if len(it.KeyIDs) == 0 {
			continue
		}
		holds, err := k.holds.Held(ctx, it.Ref)
		if err != nil {
			return nil, fmt.Errorf("shred %s: ask the legal holds: %w", it.Ref.MsgID, err)
		}
		if len(holds) > 0 {
			out[i].HeldBy = holds
			continue
		}
		if _, seen := byTenant[it.Ref.Tenant]; !seen {
			order = append(order, it.Ref.Tenant)
		}
		byTenant[it.Ref.Tenant] = append(byTenant[it.Ref.Tenant], i)
	}
	for _, t := range order {
		var ids []string
		for _, i := range byTenant[t] {
			ids = append(ids, items[i].KeyIDs...)
		}
		if _, err := k.store.Destroy(ctx, t, ids, reason); err != nil {
			return nil, fmt.Errorf("shred %d keys of %s: %w", len(ids), t, err)
		}
		for _, i := range byTenant[t] {
			out[i].Destroyed = len(items[i].KeyIDs)
		}
	}
	return out, nil
}

// ShredSent is Shred of the copies of a send named by purposes: its live
// key, its audit key, or both. A send recorded before content protection
// has no keys; nothing is done.
func (k *Keyring) ShredSent(ctx context.Context, t domain.Tenant, sent domain.MessageSent, sentAt domain.Time, reason domain.ShredReason, purposes ...domain.KeyPurpose) (ShredOutcome, error) {
	return k.Shred(ctx, domain.ContentRefOf(t, sent, sentAt), reason, KeyIDs(sent, purposes...)...)
}

// KeyIDs lists the key ids of a send's copies named by purposes.
func KeyIDs(sent domain.MessageSent, purposes ...domain.KeyPurpose) []string {
	var ids []string
	for _, p := range purposes {
		switch {
		case p == domain.PurposeLive && sent.ContentLive != nil:
			ids = append(ids, sent.ContentLive.KeyID)
		case p == domain.PurposeAudit && sent.ContentAudit != nil:
			ids = append(ids, sent.ContentAudit.KeyID)
		}
	}
	return ids
}

// Rewrap wraps every live data key again under its tenant's current KEK,
// for a KEK rotation: afterwards the old KEK unwraps nothing and can be
// retired. A key the current KEK already wraps is left alone; a key
// destroyed meanwhile stays destroyed. It returns how many were rewrapped.
func (k *Keyring) Rewrap(ctx context.Context) (int, error) {
	return k.store.Rewrap(ctx, func(t domain.Tenant, sk domain.StoredKey) (domain.WrappedKey, bool, error) {
		if sk.Wrapped.KEKID == k.kek.CurrentID(t) {
			return domain.WrappedKey{}, false, nil
		}
		ad := wrapAD(t, sk.ID)
		dek, err := k.kek.Unwrap(ctx, t, sk.Wrapped, ad)
		if err != nil {
			return domain.WrappedKey{}, false, fmt.Errorf("rewrap key %s of %s: %w", sk.ID, t, err)
		}
		defer clear(dek)
		w, err := k.kek.Wrap(ctx, t, dek, ad)
		return w, err == nil, err
	})
}
