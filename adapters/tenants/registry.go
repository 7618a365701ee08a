// Package tenants keeps the tenants a server serves and their API tokens.
//
// Tokens are random 256-bit secrets shown once at creation; only their
// SHA-256 is stored. A token is high-entropy, so a fast hash is enough: the
// point is that a copy of the data directory does not hand out access.
// The registry is one JSON file in the data directory, replaced atomically
// and shared between recalld and recallctl: the server notices a change on
// the next request, so a rotated token stops working at once.
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
	"syscall"
	"time"

	"github.com/recallledger/recall/adapters/atomicfile"
	"github.com/recallledger/recall/domain"
)

// ErrExists is returned when creating a tenant that exists.
var ErrExists = errors.New("tenant already exists")

// ErrUnknown is returned for a tenant the registry does not hold.
var ErrUnknown = errors.New("unknown tenant")

// FileName is the registry's file in the data directory.
const FileName = "tenants.json"

type file struct {
	Tenants map[string]entry `json:"tenants"`
}

type entry struct {
	CreatedAt time.Time                       `json:"created_at"`
	Tokens    map[domain.AccessRole]tokenHash `json:"tokens"`
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
	path string

	mu    sync.Mutex
	stamp fileStamp
	byID  map[string]keyed
	names []domain.Tenant
}

type keyed struct {
	Principal
	sum [sha256.Size]byte
}

type fileStamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

// Open returns the registry in dir, creating dir if needed.
func Open(dir string) (*Registry, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	r := &Registry{path: filepath.Join(dir, FileName)}
	if err := r.refresh(); err != nil {
		return nil, err
	}
	return r, nil
}

// Authenticate returns who token speaks for. The stored hash is compared in
// constant time.
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
	r.mu.Unlock()
	if !ok {
		return Principal{}, false
	}
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], k.sum[:]) != 1 {
		return Principal{}, false
	}
	return k.Principal, true
}

// Tenants lists the registered tenants.
func (r *Registry) Tenants() ([]domain.Tenant, error) {
	if err := r.refresh(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]domain.Tenant(nil), r.names...), nil
}

// Has reports whether t is registered.
func (r *Registry) Has(t domain.Tenant) bool {
	ts, err := r.Tenants()
	if err != nil {
		return false
	}
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// Create registers t and returns its new tokens, by role. They are shown
// only now: only their hashes are kept.
func (r *Registry) Create(t domain.Tenant) (map[domain.AccessRole]string, error) {
	tokens := map[domain.AccessRole]string{}
	err := r.update(func(f *file) error {
		if _, ok := f.Tenants[t.String()]; ok {
			return fmt.Errorf("create %s: %w", t, ErrExists)
		}
		e := entry{CreatedAt: time.Now().UTC(), Tokens: map[domain.AccessRole]tokenHash{}}
		for _, role := range domain.AccessRoles {
			tok, h, err := newToken(role)
			if err != nil {
				return err
			}
			tokens[role] = tok
			e.Tokens[role] = h
		}
		f.Tenants[t.String()] = e
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
	var tok string
	err := r.update(func(f *file) error {
		e, ok := f.Tenants[t.String()]
		if !ok {
			return fmt.Errorf("rotate %s: %w", t, ErrUnknown)
		}
		var h tokenHash
		var err error
		if tok, h, err = newToken(role); err != nil {
			return err
		}
		e.Tokens[role] = h
		f.Tenants[t.String()] = e
		return nil
	})
	return tok, err
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

// update applies fn to the file under an exclusive lock and writes it back
// atomically (temporary file, fsync, rename, fsync of the directory), so a
// crash leaves either the old registry or the new one.
func (r *Registry) update(fn func(*file) error) error {
	lock, err := os.OpenFile(r.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("lock registry: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock registry: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	f, err := readFile(r.path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		return err
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode registry: %w", err)
	}
	if err := writeFile(r.path, data); err != nil {
		return err
	}
	return r.refresh()
}

func readFile(path string) (*file, error) {
	f := &file{Tenants: map[string]entry{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	if err := json.Unmarshal(data, f); err != nil {
		return nil, fmt.Errorf("read registry %s: %w", path, err)
	}
	if f.Tenants == nil {
		f.Tenants = map[string]entry{}
	}
	return f, nil
}

// refresh reloads the file if it changed since it was last read. A stat per
// request is the price of a rotation taking effect at once.
func (r *Registry) refresh() error {
	st, err := os.Stat(r.path)
	var stamp fileStamp
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("stat registry: %w", err)
	default:
		stamp = fileStamp{mod: st.ModTime(), size: st.Size()}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			stamp.ino = sys.Ino
		}
	}
	r.mu.Lock()
	same := r.byID != nil && stamp == r.stamp
	r.mu.Unlock()
	if same {
		return nil
	}
	f, err := readFile(r.path)
	if err != nil {
		return err
	}
	byID := map[string]keyed{}
	names := make([]domain.Tenant, 0, len(f.Tenants))
	for name, e := range f.Tenants {
		t, err := domain.ParseTenant(name)
		if err != nil {
			return fmt.Errorf("registry %s: %w", r.path, err)
		}
		names = append(names, t)
		for role, h := range e.Tokens {
			k := keyed{Principal: Principal{Tenant: t, Role: role}}
			if n, err := hex.Decode(k.sum[:], []byte(h.SHA256)); err != nil || n != sha256.Size {
				return fmt.Errorf("registry %s: bad token hash for %s %s", r.path, t, role)
			}
			byID[h.ID] = k
		}
	}
	sort.Slice(names, func(i, j int) bool { return names[i].String() < names[j].String() })
	r.mu.Lock()
	r.stamp, r.byID, r.names = stamp, byID, names
	r.mu.Unlock()
	return nil
}

// writeFile replaces path with data, whole or not at all.
func writeFile(path string, data []byte) error {
	if err := atomicfile.Write(path, data); err != nil {
		return fmt.Errorf("write registry: %w", err)
	}
	return nil
}
