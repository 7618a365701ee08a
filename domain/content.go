package domain

import (
	"context"
	"errors"
	"fmt"
)

// Content protection (envelope encryption, crypto-shredding). A message's
// content is sealed twice at send, each copy under its own random data key
// (DEK): the live copy, which the conversation view and the feed's
// plaintext path read, and the audit copy, which the audit log reads. Each
// DEK is kept, wrapped by the tenant's key-encryption key (KEK), in a key
// store apart from the log. Destroying a DEK destroys its copy of the
// content wherever the ciphertext went (log, read models, feed, backups):
// a successful recall destroys the live key at once (and the audit key
// when the tenant's audit_keeps_recalled_content is off), expiry destroys
// the live key, and audit retention the audit key. domain/keyring is the
// envelope itself; this file holds the values and the ports.

// KeyPurpose names which copy of a message's content a data key seals.
type KeyPurpose string

const (
	// PurposeLive seals the copy the conversation view and the feed read.
	PurposeLive KeyPurpose = "live"
	// PurposeAudit seals the copy the audit log reads.
	PurposeAudit KeyPurpose = "audit"
)

// SealedContent is one copy of a message's content encrypted under one
// data key: the key's id in the key store and the AEAD ciphertext (nonce
// first). Its associated data binds the tenant, the message id, the
// purpose and the key id (domain/keyring), so a ciphertext moved to
// another message, tenant or purpose does not open.
type SealedContent struct {
	KeyID      string `json:"key_id"`
	Ciphertext []byte `json:"ciphertext"`
}

// WrappedKey is a data key encrypted by a KEK: the KEK's id (so a rotated
// KEK still unwraps what it wrapped) and the ciphertext.
type WrappedKey struct {
	KEKID string
	Blob  []byte
}

// StoredKey is one data key as the key store keeps it.
type StoredKey struct {
	ID      string
	Wrapped WrappedKey
}

// KeyState is what the key store knows of a key id.
type KeyState int

const (
	// KeyUnknown: the store never held the key (a log copied from another
	// deployment, a key store lost or restored from an older backup).
	KeyUnknown KeyState = iota
	// KeyLive: the key is held and unwraps.
	KeyLive
	// KeyDestroyed: the key was destroyed here; only a tombstone is left.
	KeyDestroyed
)

// ShredReason says why a data key is destroyed; the key store keeps it in
// the key's tombstone.
type ShredReason string

const (
	ShredRecall    ShredReason = "recall"
	ShredExpiry    ShredReason = "expiry"
	ShredRetention ShredReason = "retention"
	ShredErasure   ShredReason = "erasure"
)

// DataKeyStore is the port of the key store: data keys by tenant and key
// id, kept apart from the log. Every adapter keeps these promises: Put is
// durable before it returns and refuses an id the store already holds
// (live or destroyed); Destroy is atomic and durable — after it returns
// every id given is destroyed (a tombstone, no key material), and a crash
// during it leaves each key either live or destroyed, never in between;
// a destroyed key never comes back (Put and Rewrap leave it destroyed).
type DataKeyStore interface {
	Put(ctx context.Context, t Tenant, keys []StoredKey) error
	Get(ctx context.Context, t Tenant, id string) (WrappedKey, KeyState, error)
	// Destroy destroys the keys, and returns how many were live before.
	Destroy(ctx context.Context, t Tenant, ids []string, reason ShredReason) (int, error)
	// Rewrap calls fn with every live key, and stores what fn returns in
	// its place when fn says so — unless the key was destroyed meanwhile.
	// It returns how many keys it rewrapped.
	Rewrap(ctx context.Context, fn func(t Tenant, k StoredKey) (WrappedKey, bool, error)) (int, error)
}

// KEKProvider is the port of the tenants' key-encryption keys: it wraps a
// new data key under the tenant's current KEK, and unwraps one under
// whichever KEK wrapped it. A key file, an environment variable or a KMS
// can stand behind it; the key material need never leave it. ad is
// associated data the wrap is bound to.
type KEKProvider interface {
	Wrap(ctx context.Context, t Tenant, dek, ad []byte) (WrappedKey, error)
	Unwrap(ctx context.Context, t Tenant, w WrappedKey, ad []byte) ([]byte, error)
	// CurrentID is the id of the KEK that Wrap uses for t.
	CurrentID(t Tenant) string
}

// Content markers: what content_redacted says when the content is absent
// because its key is gone (besides the feed modes sha256 and none).
const (
	// ContentShredded: the copy's data key was destroyed (recall, expiry,
	// retention or erasure).
	ContentShredded FeedContent = "shredded"
	// ContentKeyUnavailable: the key store does not hold the copy's key,
	// or no KEK here unwraps it: the log came from elsewhere, or the key
	// store or the KEK was lost.
	ContentKeyUnavailable FeedContent = "key_unavailable"
	// ContentUndecryptable: the key is here but the ciphertext does not
	// open under it: altered, or moved from another message.
	ContentUndecryptable FeedContent = "undecryptable"
)

// ContentUnavailableError is sealed content that cannot be read: its key
// was destroyed, is not held here, or does not open it. Readers show such
// content as absent with the marker, never fail the request.
type ContentUnavailableError struct {
	Marker FeedContent // ContentShredded, ContentKeyUnavailable or ContentUndecryptable
	KeyID  string
	Cause  error // the unwrap or decrypt failure, if one
}

func (e *ContentUnavailableError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("content key %s: %s: %v", e.KeyID, e.Marker, e.Cause)
	}
	return fmt.Sprintf("content key %s: %s", e.KeyID, e.Marker)
}

func (e *ContentUnavailableError) Unwrap() error { return e.Cause }

// ContentOpener reads sealed content back at the edge: the conversation
// view, the audit log's answers and the feed decrypt through it.
type ContentOpener interface {
	// Open returns the content s seals for message id's copy purpose, or
	// a *ContentUnavailableError; any other error is the key store's or
	// the KEK provider's failure.
	Open(ctx context.Context, t Tenant, id MsgID, purpose KeyPurpose, s SealedContent) (string, error)
}

// Sealed reports whether the send's content is sealed (Content is then ""
// in the log): sends recorded before content protection carry plaintext.
func (p MessageSent) Sealed() bool { return p.ContentLive != nil || p.ContentAudit != nil }

// ContentRefOf is what a hold checker matches a message's content on.
func ContentRefOf(t Tenant, p MessageSent, sentAt Time) ContentRef {
	return ContentRef{Tenant: t, MsgID: p.MsgID, From: p.From, ConversationID: p.ConversationID, SentAt: sentAt.Time()}
}

// Reveal opens s through o at the edge: the content, or "" and the marker
// saying why it is absent (shredded, key_unavailable, undecryptable). err
// is only a failure of the key store or the KEK provider, never a missing
// key. A nil opener (no key store configured) reveals nothing.
func Reveal(ctx context.Context, o ContentOpener, t Tenant, id MsgID, purpose KeyPurpose, s SealedContent) (string, FeedContent, error) {
	if o == nil {
		return "", ContentKeyUnavailable, nil
	}
	c, err := o.Open(ctx, t, id, purpose, s)
	var unavailable *ContentUnavailableError
	switch {
	case errors.As(err, &unavailable):
		return "", unavailable.Marker, nil
	case err != nil:
		return "", "", err
	}
	return c, "", nil
}
