package operators

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/recallledger/recall/adapters/datadir"
	"github.com/recallledger/recall/domain"
)

// FileName is the registry's journal in the data directory.
const FileName = "operators.jsonl"

// record is one line of the journal.
type record struct {
	Seq  uint64 `json:"seq"`
	Kind string `json:"kind"`
	// Tenant and Name say whose record it is (every kind but published).
	Tenant string `json:"tenant,omitempty"`
	Name   string `json:"name,omitempty"`
	// Event is the operator event (kind event), as it goes to the log.
	Event *domain.Event `json:"event,omitempty"`
	// Credential is the operator's password hash: with the created and
	// password-reset events, a rehash at sign-in (kind credential) and
	// snapshots. It never goes to the log.
	Credential string `json:"credential,omitempty"`
	// At is when an operator signed in (kind signin).
	At *domain.Time `json:"at,omitempty"`
	// Snapshot is an operator's whole state (kind snapshot), written by a
	// compaction in place of the records that made it.
	Snapshot *snapshot `json:"snapshot,omitempty"`
	// Published is the last seq whose event is in the event store (kind
	// published).
	Published uint64 `json:"published,omitempty"`
}

// The kinds of record.
const (
	kindEvent      = "event"
	kindCredential = "credential"
	kindSignIn     = "signin"
	kindSnapshot   = "snapshot"
	kindPublished  = "published"
)

type snapshot struct {
	Role        domain.AccessRole `json:"role"`
	Disabled    bool              `json:"disabled,omitempty"`
	CreatedAt   domain.Time       `json:"created_at"`
	CreatedBy   string            `json:"created_by"`
	LastLoginAt *domain.Time      `json:"last_login_at,omitempty"`
	Generation  uint64            `json:"generation"`
}

// entry is one operator as the registry holds it.
type entry struct {
	op         domain.Operator
	credential string
	// generation is the seq of the operator's last change that ends its
	// sessions (or of its creation): a session made before it is over.
	generation uint64
	lastLogin  domain.Time
}

func (e *entry) info() domain.OperatorAccount {
	in := domain.OperatorAccount{Name: e.op.Name, Role: e.op.Role, Disabled: e.op.Disabled, CreatedAt: e.op.CreatedAt, CreatedBy: e.op.CreatedBy}
	if !e.lastLogin.IsZero() {
		at := e.lastLogin
		in.LastLoginAt = &at
	}
	return in
}

// Registry is the operator registry of one data directory: the journal
// DIR/operators.jsonl (mode 0600), which recalld and recallctl both
// append to under an exclusive lock, one fsynced line per change. Each
// reads what the others appended since it last looked (a stat per
// call), so a change made by recallctl applies in a running recalld at
// once.
type Registry struct {
	path   string
	clock  domain.Clock
	hasher *Hasher

	mu        sync.Mutex
	stamp     fileStamp
	offset    int64 // how much of the file has been read
	lines     int   // records read since the file was written from scratch
	seq       uint64
	published uint64
	tenants   map[string]map[domain.OperatorName]*entry
	pending   []record // event records after published, in seq order
	changed   chan struct{}
}

type fileStamp struct {
	ino  uint64
	size int64
}

// Open returns the registry in dir (creating dir if needed). clock
// stamps the events; hasher hashes the passwords.
func Open(dir string, clock domain.Clock, hasher *Hasher) (*Registry, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open operator registry: %w", err)
	}
	r := &Registry{path: filepath.Join(dir, FileName), clock: clock, hasher: hasher, changed: make(chan struct{}, 1)}
	if err := r.refresh(); err != nil {
		return nil, err
	}
	return r, nil
}

// Hasher is the registry's password hasher.
func (r *Registry) Hasher() *Hasher { return r.hasher }

// Changed is signalled (without blocking) after this registry appended
// an event, so a publisher in the same process need not wait for its
// next look.
func (r *Registry) Changed() <-chan struct{} { return r.changed }

// refresh reads what was appended to the journal since the last read, or
// all of it when the file was replaced (a compaction) or is new.
func (r *Registry) refresh() error {
	st, err := datadir.StampOf(r.path)
	if err != nil {
		return fmt.Errorf("operator registry: %w", err)
	}
	stamp := fileStamp{ino: st.Ino, size: st.Size}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tenants != nil && stamp == r.stamp {
		return nil
	}
	if r.tenants == nil || stamp.ino != r.stamp.ino || stamp.size < r.offset {
		r.reset()
	}
	if stamp.size == 0 {
		r.stamp = stamp
		return nil
	}
	f, err := os.Open(r.path)
	if err != nil {
		return fmt.Errorf("operator registry: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(r.offset, io.SeekStart); err != nil {
		return fmt.Errorf("operator registry: %w", err)
	}
	br := bufio.NewReader(f)
	for {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// a line without its newline is being written, or was torn by
			// a crash (the next writer cuts it off): read it next time
			break
		}
		if err != nil {
			return fmt.Errorf("operator registry: %w", err)
		}
		var rec record
		if err := json.Unmarshal(line, &rec); err != nil {
			return fmt.Errorf("operator registry %s: record after byte %d: %w", r.path, r.offset, err)
		}
		if err := r.apply(rec); err != nil {
			return fmt.Errorf("operator registry %s: record %d: %w", r.path, rec.Seq, err)
		}
		r.offset += int64(len(line))
		r.lines++
	}
	// the stamp is of what was read: a size read past is read again later
	r.stamp = fileStamp{ino: stamp.ino, size: r.offset}
	return nil
}

func (r *Registry) reset() {
	r.tenants, r.pending = map[string]map[domain.OperatorName]*entry{}, nil
	r.offset, r.lines, r.seq, r.published = 0, 0, 0, 0
}

// apply folds one record into the state; r.mu is held.
func (r *Registry) apply(rec record) error {
	if rec.Seq <= r.seq && rec.Kind != kindPublished {
		return fmt.Errorf("seq %d after %d", rec.Seq, r.seq)
	}
	r.seq = max(r.seq, rec.Seq)
	if rec.Kind == kindPublished {
		r.published = max(r.published, rec.Published)
		r.pending = slices.DeleteFunc(r.pending, func(p record) bool { return p.Seq <= r.published })
		return nil
	}
	ops := r.tenants[rec.Tenant]
	if ops == nil {
		ops = map[domain.OperatorName]*entry{}
		r.tenants[rec.Tenant] = ops
	}
	name := domain.OperatorName(rec.Name)
	e := ops[name]
	switch rec.Kind {
	case kindEvent:
		if rec.Event == nil {
			return errors.New("event record without its event")
		}
		if e == nil {
			e = &entry{}
		}
		if err := e.op.Apply(*rec.Event); err != nil {
			return err
		}
		if typ := rec.Event.Type(); typ == domain.TypeOperatorCreated || domain.EndsSessions(typ) {
			e.generation = rec.Seq
		}
		if rec.Credential != "" {
			e.credential = rec.Credential
		}
		ops[name] = e
		if rec.Seq > r.published {
			r.pending = append(r.pending, rec)
		}
	case kindSnapshot:
		s := rec.Snapshot
		if s == nil {
			return errors.New("snapshot record without its state")
		}
		e = &entry{op: domain.Operator{Exists: true, Name: name, Role: s.Role, Disabled: s.Disabled, CreatedAt: s.CreatedAt, CreatedBy: s.CreatedBy},
			credential: rec.Credential, generation: s.Generation}
		if s.LastLoginAt != nil {
			e.lastLogin = *s.LastLoginAt
		}
		ops[name] = e
	case kindCredential, kindSignIn:
		if e == nil {
			return fmt.Errorf("%s record of unknown operator %s", rec.Kind, name)
		}
		if rec.Credential != "" {
			e.credential = rec.Credential
		}
		if rec.At != nil {
			e.lastLogin = *rec.At
		}
	default:
		return fmt.Errorf("unknown record kind %q", rec.Kind)
	}
	return nil
}

// append writes recs (their seqs assigned here) at the end of the journal
// under the exclusive lock, after decide has looked at the state as of
// everything already written. decide runs with the state up to date and
// returns the records to write (none: nothing to do).
func (r *Registry) append(decide func() ([]record, error)) error {
	unlock, err := datadir.LockFile(r.path + ".lock")
	if err != nil {
		return fmt.Errorf("lock operator registry: %w", err)
	}
	defer unlock()

	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("operator registry: %w", err)
	}
	defer f.Close()
	if err := cutTornTail(f); err != nil {
		return err
	}
	if err := r.refresh(); err != nil {
		return err
	}
	recs, err := decide()
	if err != nil || len(recs) == 0 {
		return err
	}
	var buf bytes.Buffer
	r.mu.Lock()
	seq := r.seq
	r.mu.Unlock()
	for i := range recs {
		if recs[i].Kind != kindPublished {
			seq++
			recs[i].Seq = seq
		} else {
			recs[i].Seq = seq
		}
		b, err := json.Marshal(recs[i])
		if err != nil {
			return fmt.Errorf("operator registry: encode: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return fmt.Errorf("operator registry: %w", err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("operator registry: write: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("operator registry: sync: %w", err)
	}
	return r.refresh()
}

// cutTornTail removes a last line without its newline: a write a crash
// cut short, never acknowledged. Only a writer holding the lock does it.
func cutTornTail(f *os.File) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	size := st.Size()
	const chunk = 4096
	end := size
	for end > 0 {
		start := max(0, end-chunk)
		b := make([]byte, end-start)
		if _, err := f.ReadAt(b, start); err != nil {
			return fmt.Errorf("operator registry: %w", err)
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			keep := start + int64(i) + 1
			if keep == size {
				return nil
			}
			return truncate(f, keep)
		}
		end = start
	}
	return truncate(f, 0)
}

func truncate(f *os.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("operator registry: cut a torn line: %w", err)
	}
	return f.Sync()
}

// get returns the operator's entry; r.mu is held.
func (r *Registry) get(t domain.Tenant, name domain.OperatorName) *entry {
	return r.tenants[t.String()][name]
}

// Get returns one operator of t.
func (r *Registry) Get(t domain.Tenant, name domain.OperatorName) (domain.OperatorAccount, bool, error) {
	if err := r.refresh(); err != nil {
		return domain.OperatorAccount{}, false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.get(t, name)
	if e == nil {
		return domain.OperatorAccount{}, false, nil
	}
	return e.info(), true, nil
}

// List returns t's operators by name.
func (r *Registry) List(t domain.Tenant) ([]domain.OperatorAccount, error) {
	if err := r.refresh(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]domain.OperatorAccount, 0, len(r.tenants[t.String()]))
	for _, e := range r.tenants[t.String()] {
		out = append(out, e.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Change applies cmd to t's operators and returns the operator after it.
// An add or a reset sets a password: password if given (checked by
// CheckPassword), else a new one (NewPassword), returned once — only its
// hash is kept. A change that changes nothing records nothing.
func (r *Registry) Change(ctx context.Context, t domain.Tenant, cmd domain.OperatorCommand, password string) (domain.OperatorAccount, string, error) {
	setsPassword := cmd.Action == domain.OperatorAdd || cmd.Action == domain.OperatorReset
	var credential string
	if setsPassword {
		if password == "" {
			pw, err := NewPassword()
			if err != nil {
				return domain.OperatorAccount{}, "", err
			}
			password = pw
		} else if err := CheckPassword(password); err != nil {
			return domain.OperatorAccount{}, "", &domain.InvalidError{Code: "invalid_password", Msg: err.Error()}
		}
		// hashed before the lock: it is the slow part, and a refused
		// change costs only the hash
		var err error
		if credential, err = r.hasher.Hash(ctx, password); err != nil {
			return domain.OperatorAccount{}, "", err
		}
	} else {
		password = ""
	}
	var info domain.OperatorAccount
	err := r.append(func() ([]record, error) {
		r.mu.Lock()
		var cur domain.Operator
		if e := r.get(t, cmd.Name); e != nil {
			cur = e.op
		}
		r.mu.Unlock()
		payload, err := domain.DecideOperator(cmd, cur)
		if err != nil || payload == nil {
			return nil, err
		}
		ev := domain.NewEvent(uuid.NewString(), t, r.clock.Now(), payload)
		ev.Stream = domain.OperatorStream(t)
		return []record{{Kind: kindEvent, Tenant: t.String(), Name: string(cmd.Name), Event: &ev, Credential: credential}}, nil
	})
	if err != nil {
		return domain.OperatorAccount{}, "", err
	}
	r.mu.Lock()
	if e := r.get(t, cmd.Name); e != nil {
		info = e.info()
	}
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
	return info, password, nil
}

// Verify checks an operator's password and returns its role and the
// generation a session of it must still match. An unknown operator, a
// disabled one and a wrong password all fail alike, after the same
// argon2id work. A password hashed with older parameters is rehashed
// with the current ones.
func (r *Registry) Verify(ctx context.Context, t domain.Tenant, name domain.OperatorName, password string) (domain.AccessRole, uint64, bool, error) {
	if err := r.refresh(); err != nil {
		return "", 0, false, err
	}
	r.mu.Lock()
	var cred string
	var role domain.AccessRole
	var gen uint64
	e := r.get(t, name)
	usable := e != nil && !e.op.Disabled && e.credential != ""
	if usable {
		cred, role, gen = e.credential, e.op.Role, e.generation
	}
	r.mu.Unlock()
	if !usable || len(password) > MaxPasswordLen {
		return "", 0, false, r.hasher.VerifyNobody(ctx, password)
	}
	ok, stale, err := r.hasher.Verify(ctx, cred, password)
	if err != nil || !ok {
		return "", 0, false, err
	}
	if stale {
		if fresh, err := r.hasher.Hash(ctx, password); err == nil {
			// best effort: the old hash still verifies if this fails
			_ = r.append(func() ([]record, error) {
				return []record{{Kind: kindCredential, Tenant: t.String(), Name: string(name), Credential: fresh}}, nil
			})
		}
	}
	return role, gen, true, nil
}

// Current returns the operator's role and generation now, and false when
// it no longer exists or is disabled: a session checks it on every
// request, so a change made anywhere (recallctl included) ends it at once.
func (r *Registry) Current(t domain.Tenant, name domain.OperatorName) (domain.AccessRole, uint64, bool) {
	if err := r.refresh(); err != nil {
		return "", 0, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.get(t, name)
	if e == nil || e.op.Disabled {
		return "", 0, false
	}
	return e.op.Role, e.generation, true
}

// RecordSignIn notes when an operator signed in (last_login_at).
func (r *Registry) RecordSignIn(t domain.Tenant, name domain.OperatorName) error {
	at := domain.NewTime(r.clock.Now())
	return r.append(func() ([]record, error) {
		r.mu.Lock()
		e := r.get(t, name)
		r.mu.Unlock()
		if e == nil {
			return nil, nil
		}
		return []record{{Kind: kindSignIn, Tenant: t.String(), Name: string(name), At: &at}}, nil
	})
}

// Unpublished returns the operator events not yet in the event store, in
// the order they were recorded.
func (r *Registry) Unpublished() ([]domain.Event, uint64, error) {
	if err := r.refresh(); err != nil {
		return nil, 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]domain.Event, len(r.pending))
	last := r.published
	for i, p := range r.pending {
		out[i] = *p.Event
		last = p.Seq
	}
	return out, last, nil
}

// MarkPublished records that every event up to seq is in the event store.
func (r *Registry) MarkPublished(seq uint64) error {
	return r.append(func() ([]record, error) {
		r.mu.Lock()
		done := r.published >= seq
		r.mu.Unlock()
		if done {
			return nil, nil
		}
		return []record{{Kind: kindPublished, Published: seq}}, nil
	})
}

// compactAfter is how many records beyond its operators the journal may
// hold before Compact rewrites it.
const compactAfter = 256

// Compact rewrites the journal as one snapshot per operator when it has
// grown well past them (sign-ins and changes add up), so reading it stays
// proportional to the operators and replaced password hashes leave the
// disk. Only a journal whose events are all published is folded (it waits until they are published). It reports whether it
// rewrote the file.
func (r *Registry) Compact() (bool, error) {
	rewrote := false
	err := r.append(func() ([]record, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		live := 0
		for _, ops := range r.tenants {
			live += len(ops)
		}
		if r.lines <= 4*live+compactAfter || len(r.pending) > 0 {
			return nil, nil // small enough, or events still to publish
		}
		if err := r.rewrite(); err != nil {
			return nil, err
		}
		rewrote = true
		return nil, nil
	})
	if err != nil || !rewrote {
		return rewrote, err
	}
	return true, r.refresh()
}

// rewrite writes the state as a new journal and renames it over the old
// one (fsynced file and directory); r.mu and the file lock are held, and
// every event is published. The new journal starts with the checkpoint
// at the old one's last seq, so seqs (and the session generations made
// of them) never repeat.
func (r *Registry) rewrite() error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := enc.Encode(record{Seq: r.seq, Kind: kindPublished, Published: r.published}); err != nil {
		return err
	}
	tenants := make([]string, 0, len(r.tenants))
	for tn := range r.tenants {
		tenants = append(tenants, tn)
	}
	sort.Strings(tenants)
	seq := r.seq
	for _, tn := range tenants {
		names := make([]domain.OperatorName, 0, len(r.tenants[tn]))
		for n := range r.tenants[tn] {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			e := r.tenants[tn][n]
			s := &snapshot{Role: e.op.Role, Disabled: e.op.Disabled, CreatedAt: e.op.CreatedAt, CreatedBy: e.op.CreatedBy, Generation: e.generation}
			if !e.lastLogin.IsZero() {
				at := e.lastLogin
				s.LastLoginAt = &at
			}
			seq++
			if err := enc.Encode(record{Seq: seq, Kind: kindSnapshot, Tenant: tn, Name: string(n), Credential: e.credential, Snapshot: s}); err != nil {
				return err
			}
		}
	}
	if err := datadir.WriteFile(r.path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("compact operator registry: %w", err)
	}
	return nil
}

// Wait is how often a publisher looks for changes made by other processes
// (recallctl) when nothing in its own process told it.
const Wait = time.Second
