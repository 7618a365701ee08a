package operators

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters (RFC 9106). They are stored with
// every hash (in the PHC string format), so raising them later leaves old
// hashes verifiable; a hash made with other parameters is replaced at the
// operator's next sign-in.
type Params struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32
	Threads   uint8
}

// DefaultParams: 2 passes over 64 MiB with 2 lanes. On this project's
// 2-core machine one hash takes about 80 ms when the machine is quiet
// (BenchmarkPasswordVerify; SECURITY.md), inside the 50–100 ms a sign-in
// can spend and far above what makes guessing offline cheap. RFC 9106's
// second recommended option is t=3, m=64 MiB, p=4.
var DefaultParams = Params{Time: 2, MemoryKiB: 64 << 10, Threads: 2}

const (
	saltLen = 16
	keyLen  = 32
	// MinPasswordLen and MaxPasswordLen bound a password an operator
	// chooses (--password-stdin); generated ones are 24 characters.
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// ErrWeakPassword is a chosen password the registry refuses.
var ErrWeakPassword = errors.New("password refused")

// Hasher hashes and verifies passwords with argon2id. Every hash needs
// Params.MemoryKiB of memory while it runs, so at most a few run at once
// (the rest wait their turn): a burst of sign-ins cannot take the
// process's memory.
type Hasher struct {
	params Params
	slots  chan struct{}
	dummy  string // verified against for unknown operators: same cost
	// verifies counts argon2id verifications, for the test that an
	// unknown operator costs one like any other
	verifies atomic.Int64
}

// NewHasher returns a hasher that makes hashes with p and runs at most
// concurrent hashes at a time (at least 1).
func NewHasher(p Params, concurrent int) (*Hasher, error) {
	h := &Hasher{params: p, slots: make(chan struct{}, max(1, concurrent))}
	dummy, err := h.Hash(context.Background(), "recall-ledger: a password nobody has")
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

// Params are the parameters new hashes get.
func (h *Hasher) Params() Params { return h.params }

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }

// Hash returns password's argon2id hash with a new random salt, as
// "$argon2id$v=19$m=65536,t=2,p=2$<salt>$<key>" (base64, no padding).
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	p := h.params
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var b64 = base64.RawStdEncoding

// Verify reports whether password matches encoded, comparing the keys in
// constant time, and whether encoded was made with other parameters than
// the hasher's (so it should be replaced). An encoded hash that cannot be
// read is an error.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, stale bool, err error) {
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	h.verifies.Add(1)
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, p != h.params, nil
}

// VerifyNobody spends what a Verify costs and fails: a sign-in as an
// operator that does not exist (or is disabled) takes as long as one with
// a wrong password, so the time does not tell them apart.
func (h *Hasher) VerifyNobody(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, h.dummy, password)
	return err
}

// decodeHash reads the PHC string Hash writes.
func decodeHash(s string) (Params, []byte, []byte, error) {
	bad := func(what string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("password hash: %s", what)
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return bad("not an argon2id hash")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return bad("unknown argon2 version")
	}
	var p Params
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil || n != 3 {
		return bad("unreadable parameters")
	}
	if p.Time == 0 || p.Threads == 0 || p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > 4<<20 {
		return bad("parameters out of range")
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return bad("unreadable salt")
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return bad("unreadable key")
	}
	return p, salt, key, nil
}

// NewPassword returns a random password of 24 characters (144 bits), for
// an operator's first sign-in or a reset: shown once, never stored.
func NewPassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// CheckPassword refuses a chosen password that is too short or too long,
// not valid UTF-8, or holds control characters (which a terminal or a
// form would not type as the operator means).
func CheckPassword(pw string) error {
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return fmt.Errorf("%w: at least %d characters", ErrWeakPassword, MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("%w: at most %d bytes", ErrWeakPassword, MaxPasswordLen)
	case !utf8.ValidString(pw):
		return fmt.Errorf("%w: not valid UTF-8", ErrWeakPassword)
	}
	for _, r := range pw {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: control characters are not allowed", ErrWeakPassword)
		}
	}
	return nil
}
