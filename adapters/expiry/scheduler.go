// Package expiry appends MessageExpired when a message passes its tenant's
// message retention.
//
// It keeps its own durable index of live messages by (tenant, sent_at),
// built from the event store's feed with a checkpoint, so a restart resumes
// where it stopped and memory does not grow with history. The index is a
// cache of the log: losing its last writes in a crash only means events are
// applied again, and applying is idempotent. A message never expires twice
// because the decision is the domain's (DecideExpire) and the append is
// guarded by the message stream's expected version.
package expiry

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"

	"github.com/recallledger/recall/adapters/pebblefs"
	"github.com/recallledger/recall/adapters/pebblelog"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
)

var (
	keyCheckpoint = []byte("c")
	prefixDue     = []byte("d") // d tenant 0x00 sent_at(8) msg_id -> nil
	prefixMsg     = []byte("m") // m tenant 0x00 msg_id -> sent_at(8)
)

// Scheduler finds and expires messages past retention.
type Scheduler struct {
	db     *pebble.DB
	ledger *ledger.Service
	clock  domain.Clock
	log    *slog.Logger

	mu       sync.Mutex
	position uint64 // last position applied to the index
	wake     chan struct{}

	closing   chan struct{} // closed by Close: a write waiting for disk space gives up
	closeOnce sync.Once
	closeErr  error
}

// Options tune OpenWith; the zero value is the real disk.
type Options struct {
	// FS is the file system (tests inject faults); nil is the real one.
	FS vfs.FS
	// SpaceAvailable reports whether the disk has room again after a
	// write failed for lack of it; nil checks the directory's free space.
	SpaceAvailable func() bool
}

// Open opens the scheduler's index in dir.
func Open(dir string, l *ledger.Service, clock domain.Clock, log *slog.Logger) (*Scheduler, error) {
	return OpenWith(dir, l, clock, log, Options{})
}

// OpenWith opens the scheduler's index in dir with options.
func OpenWith(dir string, l *ledger.Service, clock domain.Clock, log *slog.Logger, o Options) (*Scheduler, error) {
	closing := make(chan struct{})
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebblelog.Logger{Store: "expiry index"},
		FS: pebblefs.Waiting(o.FS, dir, "expiry index", o.SpaceAvailable, nil, closing)})
	if err != nil {
		return nil, fmt.Errorf("open expiry index %s: %w", dir, err)
	}
	s := &Scheduler{db: db, ledger: l, clock: clock, log: log, wake: make(chan struct{}, 1), closing: closing}
	v, closer, err := db.Get(keyCheckpoint)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		db.Close()
		return nil, fmt.Errorf("read expiry checkpoint: %w", err)
	default:
		s.position = binary.BigEndian.Uint64(v)
		closer.Close()
	}
	return s, nil
}

// Close releases the index; stop Run first. A write waiting for disk space
// stops waiting and fails, so Close does not hang on a full disk (the
// index is a cache of the log: what it loses is applied again). Close may
// be called again and returns what the first call returned.
func (s *Scheduler) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// Position is the last event position the index has applied.
func (s *Scheduler) Position() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.position
}

// Run follows the store and sweeps until ctx ends. Sweeps happen when the
// first message of some tenant falls due, and at least every second so
// that new sends and policy changes are seen.
func (s *Scheduler) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() {
		if rf, ok := s.ledger.Store().(domain.RawFollower); ok {
			errc <- rf.FollowRaw(ctx, s.Position()+1, s.applyRaw)
			return
		}
		errc <- s.ledger.Store().Follow(ctx, s.Position()+1, "", s.Apply)
	}()
	for {
		next, err := s.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("expiry sweep failed", slog.Any("err", err))
		}
		wait := time.Second
		if !next.IsZero() {
			wait = min(wait, max(time.Millisecond, next.Sub(s.clock.Now())))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			<-errc
			return ctx.Err()
		case err := <-errc:
			t.Stop()
			return fmt.Errorf("expiry feed: %w", err)
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Apply folds one event into the index, with the checkpoint in the same
// batch. Events at or before the checkpoint are skipped.
func (s *Scheduler) Apply(e domain.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Position <= s.position {
		return nil
	}
	b := s.db.NewIndexedBatch()
	defer b.Close()
	if err := s.index(b, e); err != nil {
		return err
	}
	return s.commit(b, e.Position)
}

// applyRaw folds a chunk of stored events, decoding only the few types
// the index needs, in one batch.
func (s *Scheduler) applyRaw(raws [][]byte, last uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if last <= s.position {
		return nil
	}
	b := s.db.NewIndexedBatch()
	defer b.Close()
	for _, raw := range raws {
		head := raw[:min(len(raw), 128)] // "type" is the envelope's second field
		if !bytes.Contains(head, []byte(`"type":"MessageSent"`)) && !bytes.Contains(head, []byte(`"type":"MessageExpired"`)) &&
			!bytes.Contains(head, []byte(`"type":"TenantPolicySet"`)) {
			continue
		}
		e, err := domain.DecodeEvent(raw)
		if err != nil {
			return fmt.Errorf("expiry index: %w", err)
		}
		if e.Position <= s.position {
			continue
		}
		if err := s.index(b, e); err != nil {
			return err
		}
	}
	return s.commit(b, last)
}

// index adds e's effect on the index to b.
func (s *Scheduler) index(b *pebble.Batch, e domain.Event) error {
	switch p := e.Data.(type) {
	case domain.MessageSent:
		at := uint64(e.OccurredAt.UnixMilli())
		if err := b.Set(dueKey(e.Tenant, at, p.MsgID), nil, nil); err != nil {
			return fmt.Errorf("expiry index: %w", err)
		}
		if err := b.Set(msgKey(e.Tenant, p.MsgID), be64(at), nil); err != nil {
			return fmt.Errorf("expiry index: %w", err)
		}
	case domain.MessageExpired:
		mk := msgKey(e.Tenant, p.MsgID)
		v, closer, err := b.Get(mk)
		if errors.Is(err, pebble.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("expiry index: %w", err)
		}
		due := dueKey(e.Tenant, binary.BigEndian.Uint64(v), p.MsgID)
		closer.Close()
		if err := b.Delete(due, nil); err != nil {
			return fmt.Errorf("expiry index: %w", err)
		}
		if err := b.Delete(mk, nil); err != nil {
			return fmt.Errorf("expiry index: %w", err)
		}
	case domain.TenantPolicySet:
		s.poke()
	}
	return nil
}

// commit writes b with the checkpoint at position.
func (s *Scheduler) commit(b *pebble.Batch, position uint64) error {
	if err := b.Set(keyCheckpoint, be64(position), nil); err != nil {
		return fmt.Errorf("expiry index checkpoint: %w", err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("expiry index commit: %w", err)
	}
	s.position = position
	return nil
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Sweep expires every message past retention at the clock's now, and
// returns when the next one falls due (zero if none is indexed).
func (s *Scheduler) Sweep(ctx context.Context) (time.Time, error) {
	var next time.Time
	tenant := []byte{}
	for {
		t, ok, err := s.nextTenant(tenant)
		if err != nil || !ok {
			return next, err
		}
		tenant = t
		due, err := s.sweepTenant(ctx, string(t))
		if err != nil {
			return next, err
		}
		if !due.IsZero() && (next.IsZero() || due.Before(next)) {
			next = due
		}
	}
}

// nextTenant returns the first tenant in the index after the one given.
func (s *Scheduler) nextTenant(after []byte) ([]byte, bool, error) {
	lower := append(append([]byte{}, prefixDue...), after...)
	if len(after) > 0 {
		lower = append(lower, 0x01) // past every key of that tenant
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: []byte{prefixDue[0] + 1}})
	if err != nil {
		return nil, false, err
	}
	defer it.Close()
	if !it.First() {
		return nil, false, it.Error()
	}
	k := it.Key()[len(prefixDue):]
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return nil, false, fmt.Errorf("expiry index: bad key %q", it.Key())
	}
	return append([]byte{}, k[:i]...), true, nil
}

// sweepTenant expires the tenant's due messages, oldest first, and returns
// when its oldest remaining message falls due.
func (s *Scheduler) sweepTenant(ctx context.Context, tenant string) (time.Time, error) {
	t, err := domain.ParseTenant(tenant)
	if err != nil {
		return time.Time{}, err
	}
	p, err := s.ledger.Policy(ctx, t)
	if err != nil {
		return time.Time{}, err
	}
	prefix := append(append(append([]byte{}, prefixDue...), tenant...), 0)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: append(prefix[:len(prefix)-1:len(prefix)-1], 1)})
	if err != nil {
		return time.Time{}, err
	}
	defer it.Close()
	now := s.clock.Now()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[len(prefix):]
		sentAt := time.UnixMilli(int64(binary.BigEndian.Uint64(k[:8])))
		due := sentAt.Add(p.MessageRetention()).Add(time.Millisecond)
		if now.Before(due) {
			return due, nil
		}
		id := domain.MsgID(k[8:])
		res, err := s.ledger.ExpireSent(ctx, t, id, sentAt)
		if err != nil {
			return time.Time{}, fmt.Errorf("expire %s %s: %w", tenant, id, err)
		}
		if res.ShredErr != nil {
			// recorded; the content shredder destroys the key from the log
			s.log.Warn("expiry: destroying the live content key failed; the content shredder retries", slog.String("tenant", tenant),
				slog.String("msg_id", string(id)), slog.Any("err", res.ShredErr))
		}
		if res.Purged && res.Recorded {
			// its MessageExpired will come through the feed, but the key
			// goes now: nothing would remove it if the feed never brings it
			if err := s.drop(tenant, sentAt, id); err != nil {
				return time.Time{}, err
			}
			s.log.Info("expiry: message purged from the store before it expired; recorded its expiry and dropped it from the index",
				slog.String("tenant", tenant), slog.String("msg_id", string(id)), slog.Time("sent_at", sentAt))
		}
	}
	return time.Time{}, it.Error()
}

// drop removes a message from the index.
func (s *Scheduler) drop(tenant string, sentAt time.Time, id domain.MsgID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Delete(dueKey(tenant, uint64(sentAt.UnixMilli()), id), nil); err != nil {
		return fmt.Errorf("expiry index: drop %s %s: %w", tenant, id, err)
	}
	if err := b.Delete(msgKey(tenant, id), nil); err != nil {
		return fmt.Errorf("expiry index: drop %s %s: %w", tenant, id, err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("expiry index: drop %s %s: %w", tenant, id, err)
	}
	return nil
}

func dueKey(tenant string, at uint64, id domain.MsgID) []byte {
	k := make([]byte, 0, len(prefixDue)+len(tenant)+1+8+len(id))
	k = append(append(append(k, prefixDue...), tenant...), 0)
	k = binary.BigEndian.AppendUint64(k, at)
	return append(k, id...)
}

func msgKey(tenant string, id domain.MsgID) []byte {
	k := make([]byte, 0, len(prefixMsg)+len(tenant)+1+len(id))
	k = append(append(append(k, prefixMsg...), tenant...), 0)
	return append(k, id...)
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
