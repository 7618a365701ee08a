// Package erasure carries out erasure requests and the legal holds that
// defer them: a request is recorded, then a pass over the user's messages
// (found in the message index, projections/messageindex) destroys the
// content of each that no hold covers and records, a chunk at a time,
// what it erased and what a hold kept. A hold's release runs another pass
// over what it deferred; Run, at start, finishes the passes a crash cut
// short and the deferrals whose holds were released meanwhile.
//
// The decisions are the domain's (domain.PlanErasure); destroying a
// message's content is the Shredder's: content encryption's keyring
// (domain/keyring), the one destroyer of data keys, which asks the hold
// checker again itself. A chunk's keys go in one durable write.
package erasure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/keyring"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/messageindex"
)

// chunk is how many messages one ContentErased records.
const chunk = 1000

// CaughtUp returns once the message index has applied the log up to
// position (or ctx ends, or it waited too long: an error).
type CaughtUp func(ctx context.Context, position uint64) error

// Shredder destroys the data keys of many messages' content, asking the
// hold checker first for each: what a hold covers is kept and the holds
// named. *keyring.Keyring is the one; outcomes are in the items' order.
type Shredder interface {
	ShredAll(ctx context.Context, items []keyring.ShredItem, reason domain.ShredReason) ([]keyring.ShredOutcome, error)
}

// Service carries out erasures and releases holds.
type Service struct {
	ledger   *ledger.Service
	rm       projections.Store
	shredder Shredder
	caughtUp CaughtUp
	log      *slog.Logger

	mu      sync.Mutex
	running map[string]*sync.Mutex // one pass of an erasure at a time in this process
}

// New returns the service. shredder destroys content keys (nil: NoKeys
// over the ledger's hold check).
func New(l *ledger.Service, rm projections.Store, shredder Shredder, caughtUp CaughtUp, log *slog.Logger) *Service {
	if shredder == nil {
		shredder = NoKeys{Holds: l}
	}
	return &Service{ledger: l, rm: rm, shredder: shredder, caughtUp: caughtUp, log: log, running: map[string]*sync.Mutex{}}
}

// NoKeys is the shredder of a deployment without a key store (content
// recorded in plain text): it asks the hold checker, as the keyring does,
// and destroys nothing itself. What an erasure then removes is every read
// model's copy of the content (the conversation view's and the audit
// log's), which each drops on the erasure's ContentErased events.
type NoKeys struct{ Holds domain.HoldChecker }

// ShredAll implements Shredder.
func (n NoKeys) ShredAll(ctx context.Context, items []keyring.ShredItem, _ domain.ShredReason) ([]keyring.ShredOutcome, error) {
	out := make([]keyring.ShredOutcome, len(items))
	for i, it := range items {
		ids, err := n.Holds.Held(ctx, it.Ref)
		if err != nil {
			return nil, err
		}
		out[i] = keyring.ShredOutcome{HeldBy: ids, Destroyed: 0}
	}
	return out, nil
}

// Request records an erasure request, or finds the same one recorded
// before, and carries out what is left of it: the whole first pass for a
// new request, the rest of one a crash cut short, nothing for one done or
// deferred. It returns the erasure as recorded after.
func (s *Service) Request(ctx context.Context, t domain.Tenant, cmd domain.ErasureCommand) (e domain.Erasure, created bool, err error) {
	e, created, err = s.ledger.RequestErasure(ctx, t, cmd)
	if err != nil {
		return domain.Erasure{}, false, err
	}
	if e.Status() == domain.ErasurePending {
		if err := s.pass(ctx, t, e.ID, ""); err != nil {
			return domain.Erasure{}, created, err
		}
	}
	e, err = s.ledger.Erasure(ctx, t, e.ID)
	return e, created, err
}

// Erasure returns an erasure as recorded.
func (s *Service) Erasure(ctx context.Context, t domain.Tenant, id string) (domain.Erasure, error) {
	return s.ledger.Erasure(ctx, t, id)
}

// PlaceHold records a legal hold.
func (s *Service) PlaceHold(ctx context.Context, t domain.Tenant, cmd domain.PlaceHold) (domain.Hold, error) {
	return s.ledger.PlaceHold(ctx, t, cmd)
}

// Holds returns the tenant's holds.
func (s *Service) Holds(ctx context.Context, t domain.Tenant) (domain.Holds, error) {
	return s.ledger.Holds(ctx, t)
}

// ReleaseHold records the release of a hold and carries out the erasures
// it deferred (what another hold still covers stays deferred). It returns
// the hold and the erasures it resumed, as they are after.
func (s *Service) ReleaseHold(ctx context.Context, t domain.Tenant, id, reason, by string) (domain.Hold, []domain.Erasure, error) {
	h, _, err := s.ledger.ReleaseHold(ctx, t, id, reason, by)
	if err != nil {
		return domain.Hold{}, nil, err
	}
	// a repeat of the release resumes too: the first may have been cut
	// short after it was recorded
	resumed, err := s.resume(ctx, t.String(), id)
	return h, resumed, err
}

// resume carries out the unfinished erasures of tenant ("" every
// tenant): after a release of hold (or at start, hold ""), those it
// deferred and those cut short.
func (s *Service) resume(ctx context.Context, tenant, hold string) ([]domain.Erasure, error) {
	if err := s.caughtUp(ctx, s.ledger.Store().Head()); err != nil {
		return nil, err
	}
	list, err := messageindex.Unfinished(s.rm, tenant)
	if err != nil {
		return nil, fmt.Errorf("unfinished erasures: %w", err)
	}
	var out []domain.Erasure
	var errs []error
	for _, u := range list {
		t, err := domain.ParseTenant(u.Tenant)
		if err != nil {
			continue
		}
		e, err := s.ledger.Erasure(ctx, t, u.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if e.Status() == domain.ErasureDone || (hold != "" && !heldBy(e, hold)) {
			continue
		}
		if err := s.pass(ctx, t, e.ID, hold); err != nil {
			errs = append(errs, err)
			continue
		}
		if e, err = s.ledger.Erasure(ctx, t, e.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, e)
	}
	return out, errors.Join(errs...)
}

func heldBy(e domain.Erasure, hold string) bool {
	return slices.ContainsFunc(e.Held, func(h domain.HeldContent) bool { return slices.Contains(h.HoldIDs, hold) })
}

// Run finishes, at start, every erasure left unfinished: a first pass a
// crash cut short, and deferred parts whose holds were released while the
// server was down. It returns when that is done or ctx ends.
func (s *Service) Run(ctx context.Context) error {
	resumed, err := s.resume(ctx, "", "")
	if err != nil && ctx.Err() == nil {
		s.log.Warn("erasures left unfinished", slog.Any("err", err))
	}
	if len(resumed) > 0 {
		s.log.Info("erasures resumed", slog.Int("count", len(resumed)))
	}
	return nil
}

// lock takes the erasure's pass lock.
func (s *Service) lock(t domain.Tenant, id string) func() {
	s.mu.Lock()
	m, ok := s.running[t.String()+"\x00"+id]
	if !ok {
		m = &sync.Mutex{}
		s.running[t.String()+"\x00"+id] = m
	}
	s.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// pass carries out one pass of an erasure: over every message the user
// sent before the request while the first pass is unfinished, else over
// what holds deferred. released names the hold whose release started it.
func (s *Service) pass(ctx context.Context, t domain.Tenant, id, released string) error {
	defer s.lock(t, id)()
	e, err := s.ledger.Erasure(ctx, t, id)
	if err != nil {
		return err
	}
	holds, err := s.ledger.Holds(ctx, t)
	if err != nil {
		return err
	}
	p := &passState{s: s, t: t, e: e, holds: holds, version: e.Version(), released: released}
	if e.Passes == 0 {
		err = s.firstPass(ctx, p)
	} else {
		err = s.deferredPass(ctx, p)
	}
	if err != nil {
		return fmt.Errorf("erasure %s: %w", id, err)
	}
	return nil
}

// firstPass goes over the user's messages sent before the request, a
// chunk at a time, the messages erased before a crash skipped.
func (s *Service) firstPass(ctx context.Context, p *passState) error {
	if err := s.caughtUp(ctx, p.e.Position); err != nil {
		return err
	}
	after := uint64(0)
	for {
		sent, err := messageindex.BySender(s.rm, p.t, p.e.User, after, p.e.Position, chunk)
		if err != nil {
			return err
		}
		last := len(sent) < chunk
		if err := p.record(ctx, sent, last); err != nil || last {
			return err
		}
		after = sent[len(sent)-1].Position
	}
}

// deferredPass goes over what holds kept from the erasure.
func (s *Service) deferredPass(ctx context.Context, p *passState) error {
	ids := make([]domain.MsgID, len(p.e.Held))
	for i, h := range p.e.Held {
		ids[i] = h.MsgID
	}
	for first := true; first || len(ids) > 0; first = false { // a pass records at least its final chunk
		n := min(chunk, len(ids))
		msgs, err := messageindex.Messages(s.rm, p.t, ids[:n])
		if err != nil {
			return err
		}
		ids = ids[n:]
		if err := p.record(ctx, msgs, len(ids) == 0); err != nil {
			return err
		}
	}
	return nil
}

// passState is one pass under way.
type passState struct {
	s        *Service
	t        domain.Tenant
	e        domain.Erasure
	holds    domain.Holds
	version  int64
	released string
}

// record decides a chunk, destroys what it may and records what it did:
// a message the shredder finds held (a hold placed since the pass read
// the holds) is recorded as held, with the holds it names.
func (p *passState) record(ctx context.Context, msgs []messageindex.Sent, final bool) error {
	refs := make([]domain.ContentRef, len(msgs))
	keys := make(map[domain.MsgID][]string, len(msgs))
	for i, m := range msgs {
		refs[i], keys[m.Ref.MsgID] = m.Ref, m.KeyIDs
	}
	erase, held := domain.PlanErasure(p.e, refs, p.holds)
	ch := domain.ContentErased{ErasureID: p.e.ID, User: p.e.User, Erased: []domain.MsgID{}, Held: held, Final: final, ReleasedHold: p.released}
	if ch.Held == nil {
		ch.Held = []domain.HeldContent{}
	}
	outcomes, err := p.s.shred(ctx, erase, keys)
	if err != nil {
		return err
	}
	for i, o := range outcomes {
		if o.Held() {
			ch.Held = append(ch.Held, domain.HeldContent{MsgID: erase[i].MsgID, HoldIDs: o.HeldBy})
			continue
		}
		ch.Erased = append(ch.Erased, erase[i].MsgID)
	}
	v, err := p.s.ledger.RecordErased(ctx, p.t, p.version, ch)
	if err != nil {
		return err
	}
	p.version = v
	return nil
}

// shred destroys the keys of refs through the shredder, their outcomes in
// refs' order. Content recorded before content protection has no keys:
// the keyring would have nothing to ask the hold checker about, so those
// messages are asked of it here (NoKeys), and a hold placed during the
// pass still keeps them.
func (s *Service) shred(ctx context.Context, refs []domain.ContentRef, keys map[domain.MsgID][]string) ([]keyring.ShredOutcome, error) {
	var keyed, plain []keyring.ShredItem
	var keyedAt, plainAt []int
	for i, r := range refs {
		if ids := keys[r.MsgID]; len(ids) > 0 {
			keyed, keyedAt = append(keyed, keyring.ShredItem{Ref: r, KeyIDs: ids}), append(keyedAt, i)
		} else {
			plain, plainAt = append(plain, keyring.ShredItem{Ref: r}), append(plainAt, i)
		}
	}
	out := make([]keyring.ShredOutcome, len(refs))
	for _, part := range []struct {
		shredder Shredder
		items    []keyring.ShredItem
		at       []int
	}{{s.shredder, keyed, keyedAt}, {NoKeys{Holds: s.ledger}, plain, plainAt}} {
		if len(part.items) == 0 {
			continue
		}
		got, err := part.shredder.ShredAll(ctx, part.items, domain.ShredErasure)
		if err != nil {
			return nil, fmt.Errorf("shred %d messages: %w", len(part.items), err)
		}
		for j, o := range got {
			out[part.at[j]] = o
		}
	}
	return out, nil
}
