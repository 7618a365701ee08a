// Package tenants keeps the tenants a server serves and their API tokens.
//
// Tokens are random 256-bit secrets shown once at creation; only their
// SHA-256 is stored. A token is high-entropy, so a fast hash is enough: the
// point is that a copy of the data directory does not hand out access.
//
// The registry is a journal in the data directory (DIR/tenants.jsonl,
// adapters/journal): each create, rotation, disable or enable is one line
// appended and fsynced under an exclusive lock, so a change costs the same
// with ten tenants or a hundred thousand (the one JSON file it replaced
// was rewritten and fsynced whole on every change). recalld and recallctl
// share it: the server reads what was appended on the next request (a
// stat), so a rotated token stops working at once.
package tenants

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/recallledger/recall/adapters/journal"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/codec"
)

// ErrExists is returned when creating a tenant that exists.
var ErrExists = errors.New("tenant already exists")

// ErrUnknown is returned for a tenant the registry does not hold.
var ErrUnknown = errors.New("unknown tenant")

// FileName is the registry's journal in the data directory.
const FileName = "tenants.jsonl"

// LegacyFileName is the one-file registry of earlier versions: Open
// imports it into the journal once, and removes it.
const LegacyFileName = "tenants.json"

// record is one line of the journal.
type record struct {
	Seq    uint64 `json:"seq"`
	Kind   string `json:"kind"`
	Tenant string `json:"tenant"`
	// At is when the change was made.
	At time.Time `json:"at"`
	// Tokens are the new tokens' hashes: every role's when created, the
	// rotated role's when rotated.
	Tokens map[domain.AccessRole]tokenHash `json:"tokens,omitempty"`
}

// The kinds of record.
const (
	kindCreated  = "created"
	kindRotated  = "rotated"
	kindDisabled = "disabled"
	kindEnabled  = "enabled"
)

// legacyFile is the one-file registry of earlier versions.
type legacyFile struct {
	Tenants map[string]struct {
		CreatedAt time.Time                       `json:"created_at"`
		Tokens    map[domain.AccessRole]tokenHash `json:"tokens"`
	} `json:"tenants"`
}

// tokenHash is what is kept of a token: its public key id, by which it is
// found, and the SHA-256 of the whole token, compared in constant time.
type tokenHash struct {
	ID     string `json:"id"`
	SHA256 string `json:"sha256"`
}

// Principal is who a valid token speaks for.
type Principal = domain.Principal

// Registry is the tenant registry of one data directory.
type Registry struct {
	journal *journal.Journal

	mu      sync.Mutex
	seq     uint64
	tenants map[domain.Tenant]*tenantState
	byID    map[string]keyed
	names   []domain.Tenant // sorted; nil when it must be made again
}

// tenantState is one tenant as the journal says it is now.
type tenantState struct {
	disabled bool
	tokens   map[domain.AccessRole]string // role -> key id
}

type keyed struct {
	Principal
	sum [sha256.Size]byte
}

// Open returns the registry in dir, creating dir if needed. A registry of
// an earlier version (DIR/tenants.json) is imported into the journal
// first, once.
func Open(dir string) (*Registry, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	r := &Registry{journal: journal.New(filepath.Join(dir, FileName))}
	r.reset()
	if err := r.importLegacy(filepath.Join(dir, LegacyFileName)); err != nil {
		return nil, err
	}
	if err := r.refresh(); err != nil {
		return nil, err
	}
	return r, nil
}

// importLegacy turns a one-file registry into the journal: one created
// record per tenant, written under the journal's lock only while the
// journal is still empty, then the old file goes. A crash between the two
// leaves both; the next Open finds the journal written and only removes
// the old file.
func (r *Registry) importLegacy(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read registry %s: %w", path, err)
	}
	var old legacyFile
	if err := json.Unmarshal(data, &old); err != nil {
		return fmt.Errorf("read registry %s: %w", path, err)
	}
	names := make([]string, 0, len(old.Tenants))
	for name := range old.Tenants {
		names = append(names, name)
	}
	sort.Strings(names)
	err = r.journal.Append(r.reset, r.apply, func() ([][]byte, error) {
		if r.seq > 0 {
			return nil, nil // imported already
		}
		lines := make([][]byte, 0, len(names))
		for i, name := range names {
			e := old.Tenants[name]
			b, err := codec.Marshal(record{Seq: uint64(i + 1), Kind: kindCreated, Tenant: name, At: e.CreatedAt, Tokens: e.Tokens})
			if err != nil {
				return nil, err
			}
			lines = append(lines, b)
		}
		return lines, nil
	})
	if err != nil {
		return fmt.Errorf("import registry %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("import registry %s: %w", path, err)
	}
	return nil
}

// reset empties the state before the journal is read from its start.
func (r *Registry) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq, r.tenants, r.byID, r.names = 0, map[domain.Tenant]*tenantState{}, map[string]keyed{}, nil
}

// apply folds one journal line into the state.
func (r *Registry) apply(line []byte) error {
	var rec record
	if err := codec.Unmarshal(line, &rec); err != nil {
		return err
	}
	t, err := domain.ParseTenant(rec.Tenant)
	if err != nil {
		return fmt.Errorf("record %d: %w", rec.Seq, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec.Seq <= r.seq {
		return fmt.Errorf("record %d after %d", rec.Seq, r.seq)
	}
	st := r.tenants[t]
	switch rec.Kind {
	case kindCreated:
		if st != nil {
			return fmt.Errorf("record %d: %s created twice", rec.Seq, t)
		}
		st = &tenantState{tokens: map[domain.AccessRole]string{}}
		r.tenants[t], r.names = st, nil
	case kindRotated, kindDisabled, kindEnabled:
		if st == nil {
			return fmt.Errorf("record %d: %s %s before it was created", rec.Seq, rec.Kind, t)
		}
		st.disabled = rec.Kind == kindDisabled || (st.disabled && rec.Kind == kindRotated)
	default:
		return fmt.Errorf("record %d: unknown kind %q", rec.Seq, rec.Kind)
	}
	for role, h := range rec.Tokens {
		k := keyed{Principal: Principal{Tenant: t, Role: role}}
		if n, err := hex.Decode(k.sum[:], []byte(h.SHA256)); err != nil || n != sha256.Size {
			return fmt.Errorf("record %d: bad token hash for %s %s", rec.Seq, t, role)
		}
		delete(r.byID, st.tokens[role])
		st.tokens[role] = h.ID
		r.byID[h.ID] = k
	}
	r.seq = rec.Seq
	return nil
}

// refresh reads what was appended since the last look. A stat per
// request is the price of a rotation taking effect at once.
func (r *Registry) refresh() error { return r.journal.Read(r.reset, r.apply) }

// Authenticate returns who token speaks for. The stored hash is compared in
// constant time. A disabled tenant's tokens authenticate no one.
func (r *Registry) Authenticate(token string) (Principal, bool) {
	if token == "" || len(token) > 256 {
		return Principal{}, false
	}
	if err := r.refresh(); err != nil {
		return Principal{}, false
	}
	id, ok := tokenID(token)
	if !ok {
		return Principal{}, false
	}
	r.mu.Lock()
	k, ok := r.byID[id]
	usable := ok && !r.tenants[k.Tenant].disabled
	r.mu.Unlock()
	if !ok {
		return Principal{}, false
	}
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], k.sum[:]) != 1 || !usable {
		return Principal{}, false
	}
	return k.Principal, true
}

// Tenants lists the registered tenants, disabled ones too (their history
// is still kept, and retention still applies to it).
func (r *Registry) Tenants() ([]domain.Tenant, error) {
	if err := r.refresh(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names == nil {
		r.names = make([]domain.Tenant, 0, len(r.tenants))
		for t := range r.tenants {
			r.names = append(r.names, t)
		}
		sort.Slice(r.names, func(i, j int) bool { return r.names[i].String() < r.names[j].String() })
	}
	return append([]domain.Tenant(nil), r.names...), nil
}

// Has reports whether t is registered.
func (r *Registry) Has(t domain.Tenant) bool {
	if err := r.refresh(); err != nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tenants[t] != nil
}

// Disabled reports whether t is registered and disabled.
func (r *Registry) Disabled(t domain.Tenant) bool {
	if err := r.refresh(); err != nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.tenants[t]
	return st != nil && st.disabled
}

// Create registers t and returns its new tokens, by role. They are shown
// only now: only their hashes are kept.
func (r *Registry) Create(t domain.Tenant) (map[domain.AccessRole]string, error) {
	tokens := map[domain.AccessRole]string{}
	hashes := map[domain.AccessRole]tokenHash{}
	for _, role := range domain.AccessRoles {
		tok, h, err := newToken(role)
		if err != nil {
			return nil, err
		}
		tokens[role], hashes[role] = tok, h
	}
	err := r.change(t, kindCreated, hashes, func(st *tenantState) error {
		if st != nil {
			return fmt.Errorf("create %s: %w", t, ErrExists)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tokens, nil
}

// Rotate replaces the token of t's role and returns the new one; the old
// one stops working.
func (r *Registry) Rotate(t domain.Tenant, role domain.AccessRole) (string, error) {
	tok, h, err := newToken(role)
	if err != nil {
		return "", err
	}
	err = r.change(t, kindRotated, map[domain.AccessRole]tokenHash{role: h}, func(st *tenantState) error {
		if st == nil {
			return fmt.Errorf("rotate %s: %w", t, ErrUnknown)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return tok, nil
}

// SetDisabled disables t (its tokens stop working at once; its history
// stays) or enables it again. Disabling a disabled tenant, or enabling an
// enabled one, records nothing.
func (r *Registry) SetDisabled(t domain.Tenant, disabled bool) error {
	kind := kindEnabled
	if disabled {
		kind = kindDisabled
	}
	return r.change(t, kind, nil, func(st *tenantState) error {
		if st == nil {
			return fmt.Errorf("%s %s: %w", kind, t, ErrUnknown)
		}
		return nil
	})
}

// change appends one record of kind about t, once check (which sees t's
// state as of every record written, nil for an unknown tenant) allows it.
func (r *Registry) change(t domain.Tenant, kind string, tokens map[domain.AccessRole]tokenHash, check func(*tenantState) error) error {
	return r.journal.Append(r.reset, r.apply, func() ([][]byte, error) {
		r.mu.Lock()
		st, seq := r.tenants[t], r.seq
		var before bool
		if st != nil {
			before = st.disabled
		}
		r.mu.Unlock()
		if err := check(st); err != nil {
			return nil, err
		}
		if (kind == kindDisabled && before) || (kind == kindEnabled && st != nil && !before) {
			return nil, nil
		}
		b, err := codec.Marshal(record{Seq: seq + 1, Kind: kind, Tenant: t.String(), At: time.Now().UTC(), Tokens: tokens})
		if err != nil {
			return nil, fmt.Errorf("encode registry record: %w", err)
		}
		return [][]byte{b}, nil
	})
}

// newToken makes "rl<role letter>_<key id>_<secret>": the key id (64
// random bits) finds the record without touching the secret (256 bits).
func newToken(role domain.AccessRole) (string, tokenHash, error) {
	b := make([]byte, 8+32)
	if _, err := rand.Read(b); err != nil {
		return "", tokenHash{}, fmt.Errorf("new token: %w", err)
	}
	id := hex.EncodeToString(b[:8])
	tok := "rl" + tokenLetter[role] + "_" + id + "_" + base64.RawURLEncoding.EncodeToString(b[8:])
	sum := sha256.Sum256([]byte(tok))
	return tok, tokenHash{ID: id, SHA256: hex.EncodeToString(sum[:])}, nil
}

// tokenLetter marks a token's role in its prefix, so a leaked token in a
// log or a ticket says what it can do.
var tokenLetter = map[domain.AccessRole]string{domain.AccessService: "s", domain.AccessAdmin: "a", domain.AccessAuditor: "u"}

// tokenID returns the key id of a well-formed token.
func tokenID(tok string) (string, bool) {
	if len(tok) != 4+16+1+43 || tok[:2] != "rl" || tok[3] != '_' || tok[20] != '_' {
		return "", false
	}
	return tok[4:20], true
}
