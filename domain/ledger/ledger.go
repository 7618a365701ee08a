// Package ledger is the command side of Recall Ledger: it loads a message's
// state from the EventStore, asks the domain to decide, and appends the
// outcome with optimistic concurrency, retrying on a concurrent change.
//
// It holds no lock across messages: two recalls of one message race on the
// stream's expected version, the loser reloads and sees already_recalled.
// It does no I/O of its own; storage is the EventStore port.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/recallledger/recall/domain"
)

// idNamespace makes server-side ids derived from client keys (client_msg_id,
// request_id) stable across restarts and instances.
var idNamespace = uuid.MustParse("5f2b8a0e-6d0c-4c59-9a86-2f1f0c6a4e11")

// Service decides and records commands.
type Service struct {
	store domain.EventStore
	clock domain.Clock
	// snapshots is the store's, when it keeps stream snapshots: commands
	// then load a message from its snapshot and the events after it.
	snapshots domain.StreamSnapshots

	mu       sync.Mutex
	policies map[domain.Tenant]cachedPolicy
}

type cachedPolicy struct {
	policy  domain.Policy
	version int64 // tenant stream version it was read at
}

// New returns a service over store, deciding by clock.
func New(store domain.EventStore, clock domain.Clock) *Service {
	sn, _ := store.(domain.StreamSnapshots)
	return &Service{store: store, clock: clock, snapshots: sn, policies: map[domain.Tenant]cachedPolicy{}}
}

// Store is the event store the service appends to.
func (s *Service) Store() domain.EventStore { return s.store }

// SendResult is a recorded send.
type SendResult struct {
	MsgID          domain.MsgID
	ConversationID string
	SentAt         domain.Time
	// Created is false when the send repeated an earlier one with the same
	// client_msg_id: nothing new was recorded.
	Created bool
}

// MsgIDFor is the message id of a send: derived from (tenant, sender,
// client_msg_id) so a retry lands on the same stream, random otherwise.
func MsgIDFor(t domain.Tenant, cmd domain.SendCommand) domain.MsgID {
	if cmd.ClientMsgID == "" {
		return domain.MsgID(uuid.NewString())
	}
	return domain.MsgID(uuid.NewSHA1(idNamespace, []byte(t.String()+"\x00"+string(cmd.From)+"\x00"+cmd.ClientMsgID)).String())
}

// Send records a message. A repeat with the same client_msg_id and content
// returns the original; with other content it is a *domain.ConflictError.
func (s *Service) Send(ctx context.Context, t domain.Tenant, cmd domain.SendCommand) (SendResult, error) {
	id := MsgIDFor(t, cmd)
	sent := cmd.Sent(id)
	now := s.clock.Now()
	ev := domain.NewEvent(uuid.NewString(), t, now, sent)
	stream := domain.MessageStream(t, id)
	stored, err := s.store.Append(ctx, stream, domain.NoStream, []domain.Event{ev})
	if err == nil {
		return SendResult{MsgID: id, ConversationID: sent.ConversationID, SentAt: stored.Events[0].OccurredAt, Created: true}, nil
	}
	var wrong *domain.WrongVersionError
	if !errors.As(err, &wrong) {
		return SendResult{}, fmt.Errorf("send %s: %w", id, err)
	}
	m, err := s.load(ctx, stream)
	if err != nil {
		return SendResult{}, err
	}
	if !m.Exists || !cmd.SameSend(m.Sent) {
		return SendResult{}, &domain.ConflictError{Code: "client_msg_id_conflict",
			Msg: fmt.Sprintf("client_msg_id %q was already used by %s for a different message", cmd.ClientMsgID, cmd.From)}
	}
	return SendResult{MsgID: id, ConversationID: m.Sent.ConversationID, SentAt: m.SentAt}, nil
}

// Read records a read receipt. It reports whether anything new was
// recorded: a repeat, the sender's own read or a read of a recalled or
// expired message records nothing.
//
// Reads of one message by different readers commute, so a read does not
// expect the stream's version: a thousand members reading a group message
// at once do not retry on each other's reads. A repeat by the same reader
// is caught by the event id, derived from the message and the reader,
// which the store's idempotency turns into a no-op even when two repeats
// race. A recall still expects the version it decided on, so every read
// stored before it is in its exposure.
func (s *Service) Read(ctx context.Context, t domain.Tenant, cmd domain.ReadCommand) (bool, error) {
	stream := domain.MessageStream(t, cmd.MsgID)
	r, err := run(ctx, s, command[domain.Message]{
		tenant: t, what: "read " + string(cmd.MsgID),
		load: func(ctx context.Context) (domain.Message, int64, error) {
			// a repeat is caught by the event id: the readers need not be read
			m, err := s.loadFor(ctx, stream, false)
			return m, m.Version(), err
		},
		decide: func(m domain.Message, _ int64, _ time.Time) (change, error) {
			read, err := domain.DecideRead(cmd, m)
			c := appendTo(stream, domain.AnyVersion, read...)
			c.id = uuid.NewSHA1(idNamespace, []byte("read\x00"+t.String()+"\x00"+string(cmd.MsgID)+"\x00"+string(cmd.Reader))).String()
			return c, err
		},
	})
	return len(r.stored.Events) > 0 && !r.stored.AlreadyStored, err
}

// Outcome is the result of a recall attempt.
type Outcome struct {
	MsgID    domain.MsgID
	Decision domain.Decision
	// At is when the attempt was decided (the server's time at receipt).
	At domain.Time
	// Replayed is true when a retry with the same request_id returned the
	// original outcome and recorded nothing: the message's history already
	// held the attempt, or the store reported the append as an idempotent
	// retry (an identical request got there first).
	Replayed bool
}

// Recall decides a recall attempt at the server's time of receipt and
// records it, accepted or refused, as exactly one event.
func (s *Service) Recall(ctx context.Context, t domain.Tenant, cmd domain.RecallCommand) (Outcome, error) {
	stream := domain.MessageStream(t, cmd.MsgID)
	var out Outcome
	r, err := run(ctx, s, command[recallState]{
		tenant: t, what: "recall " + string(cmd.MsgID),
		load: func(ctx context.Context) (recallState, int64, error) {
			p, err := s.Policy(ctx, t)
			if err != nil {
				return recallState{}, 0, err
			}
			m, err := s.load(ctx, stream)
			return recallState{policy: p, message: m}, m.Version(), err
		},
		decide: func(st recallState, version int64, now time.Time) (change, error) {
			if a, ok := st.message.Replay(cmd.Actor, cmd.RequestID); ok {
				out = Outcome{MsgID: cmd.MsgID, Decision: a.Decision, At: a.At, Replayed: true}
				return change{}, nil
			}
			d, payload := domain.DecideRecall(cmd, st.message, st.policy, now)
			out = Outcome{MsgID: cmd.MsgID, Decision: d, At: domain.NewTime(now)}
			// No message stream to guard: record the attempt where it
			// cannot create one. A retry with the same request_id reuses
			// the event id, which the store's idempotency turns into a
			// no-op.
			c := appendTo(stream, version, payload)
			if !st.message.Exists {
				c = appendTo(domain.RecallStream(t), domain.AnyVersion, payload)
			}
			c.id = s.attemptID(t, cmd)
			return c, nil
		},
	})
	if err != nil {
		return Outcome{}, err
	}
	if r.stored.AlreadyStored {
		// the store holds this attempt already: answer with what it
		// recorded, not with what this call decided
		a, err := domain.RecordedAttempt(r.stored.Events[0])
		if err != nil {
			return Outcome{}, fmt.Errorf("recall %s: %w", cmd.MsgID, err)
		}
		return Outcome{MsgID: cmd.MsgID, Decision: a.Decision, At: a.At, Replayed: true}, nil
	}
	return out, nil
}

// recallState is what a recall is decided against: the tenant's policy
// and the message, read again after each concurrent change.
type recallState struct {
	policy  domain.Policy
	message domain.Message
}

// attemptID is the event id of a recall attempt: stable for a request_id so
// that a retry is idempotent at the store too, random without one.
func (s *Service) attemptID(t domain.Tenant, cmd domain.RecallCommand) string {
	if cmd.RequestID == "" {
		return uuid.NewString()
	}
	return uuid.NewSHA1(idNamespace, []byte("recall\x00"+t.String()+"\x00"+string(cmd.MsgID)+"\x00"+string(cmd.Actor)+"\x00"+cmd.RequestID)).String()
}

// BatchItem is one message of an admin batch recall (Easemob's shape).
type BatchItem struct {
	MsgID    domain.MsgID
	To       domain.UserID
	ChatType domain.ChatType
}

// MaxBatch is the most messages one batch recall may name.
const MaxBatch = 100

// BatchAdmin is the actor recorded for an admin batch recall.
const BatchAdmin domain.UserID = "admin"

// BatchOutcome is one item of a batch recall: its outcome, or Err when it
// could not be decided and recorded (the store failed); the other items
// are tried all the same.
type BatchOutcome struct {
	Outcome
	Err error
}

// BatchRecall recalls each item as the tenant admin, checking that the
// named recipient matches. Every item decided is one recorded attempt;
// requestedBy names the operator who asked, if one did (else "").
func (s *Service) BatchRecall(ctx context.Context, t domain.Tenant, items []BatchItem, platform, requestedBy string) ([]BatchOutcome, error) {
	if len(items) > MaxBatch {
		return nil, &domain.InvalidError{Code: "too_many_messages", Msg: fmt.Sprintf("at most %d messages a call", MaxBatch)}
	}
	out := make([]BatchOutcome, len(items))
	for i, it := range items {
		o, err := s.Recall(ctx, t, domain.RecallCommand{
			MsgID: it.MsgID, Actor: BatchAdmin, Role: domain.ActorTenantAdmin, Platform: platform, To: it.To, RequestedBy: requestedBy,
		})
		out[i] = BatchOutcome{Outcome: o, Err: err}
		if err != nil {
			out[i].MsgID = it.MsgID
		}
	}
	return out, nil
}

// Expire records that the message passed its tenant's retention. It reports
// whether it did; a message that is not due, or already expired, is left
// alone.
func (s *Service) Expire(ctx context.Context, t domain.Tenant, id domain.MsgID) (bool, error) {
	res, err := s.expire(ctx, t, id, nil)
	return res.Recorded, err
}

// ExpireResult is what ExpireSent did.
type ExpireResult struct {
	// Recorded is true when a MessageExpired was appended.
	Recorded bool
	// Purged is true when the store no longer holds the message's send:
	// its retention purge came first.
	Purged bool
}

// ExpireSent is Expire for a message the caller saw sent at sentAt (the
// expiry index does). When the store no longer holds the send — purged
// before the message expired — it still records MessageExpired past
// retention, so that every read model built from the log drops the
// message; nothing else would ever tell them.
//
// Such a stream's version is unknown to a reader (the purge removed the
// events that carried it), so that append goes with AnyVersion and an
// event id derived from the message: nothing else appends to a purged
// message's stream (a send again is refused, recalls go to the recall
// stream), and two schedulers racing on it write one event, the store's
// idempotency dropping the second.
func (s *Service) ExpireSent(ctx context.Context, t domain.Tenant, id domain.MsgID, sentAt time.Time) (ExpireResult, error) {
	return s.expire(ctx, t, id, &sentAt)
}

// expire records a message's expiry when it is due under the tenant's
// policy; sentAt, when the caller knows it, also expires a message whose
// send the store purged (ExpireSent).
func (s *Service) expire(ctx context.Context, t domain.Tenant, id domain.MsgID, sentAt *time.Time) (ExpireResult, error) {
	p, err := s.Policy(ctx, t)
	if err != nil {
		return ExpireResult{}, err
	}
	stream := domain.MessageStream(t, id)
	r, err := run(ctx, s, command[domain.Message]{
		tenant: t, what: "append " + stream, load: s.message(stream),
		decide: func(m domain.Message, version int64, now time.Time) (change, error) {
			if sentAt != nil && purged(m) {
				exp, ok := domain.DecideExpirePurged(m, id, *sentAt, p, now)
				if !ok {
					return change{}, nil
				}
				c := appendTo(stream, domain.AnyVersion, exp)
				c.id = uuid.NewSHA1(idNamespace, []byte("expire-purged\x00"+t.String()+"\x00"+string(id))).String()
				return c, nil
			}
			if exp, ok := domain.DecideExpire(m, p, now); ok {
				return appendTo(stream, version, exp), nil
			}
			return change{}, nil
		},
	})
	if err != nil {
		return ExpireResult{}, err
	}
	return ExpireResult{Recorded: len(r.stored.Events) > 0, Purged: sentAt != nil && purged(r.state)}, nil
}

// purged reports whether a message stream no longer holds the send nor
// an expiry: the store's retention purge came first.
func purged(m domain.Message) bool { return !m.Exists && !m.Expired }

// RetainedSince is the oldest send time inside the tenant's message
// retention now, by the clock expiry is decided by: read models leave out
// what was sent before it, expired or not yet (see domain.Policy).
func (s *Service) RetainedSince(ctx context.Context, t domain.Tenant) (time.Time, error) {
	p, err := s.Policy(ctx, t)
	if err != nil {
		return time.Time{}, err
	}
	return p.RetainedSince(s.clock.Now()), nil
}

// Message returns the current state of a message, from every event of its
// stream (its content included).
func (s *Service) Message(ctx context.Context, t domain.Tenant, id domain.MsgID) (domain.Message, error) {
	return s.replay(ctx, domain.MessageStream(t, id))
}

// snapshotEvery is how many events a command's load may apply after the
// stream's snapshot before it saves a newer one: a stream of any length is
// then loaded from one snapshot and fewer than this many events.
const snapshotEvery = 16

// load is a message's state for deciding a command: from the stream's
// snapshot and the events after it when the store keeps snapshots
// (without the message's content, which no decision reads), else from
// every event.
func (s *Service) load(ctx context.Context, stream string) (domain.Message, error) {
	return s.loadFor(ctx, stream, true)
}

// loadFor is load; without readers, the snapshot's readers are not
// decoded (ReadBy then holds only those who read after it), for a
// decision that does not need them — unless the load is to save a new
// snapshot, which must hold them all.
func (s *Service) loadFor(ctx context.Context, stream string, readers bool) (domain.Message, error) {
	if s.snapshots == nil {
		return s.replay(ctx, stream)
	}
	snap, evs, err := s.snapshots.ReadStreamSnapshot(ctx, stream)
	if err != nil {
		return domain.Message{}, fmt.Errorf("read %s: %w", stream, err)
	}
	save := len(evs) >= snapshotEvery
	decode := domain.MessageFromSnapshot
	if !readers && !save {
		decode = domain.MessageFromSnapshotWithoutReaders
	}
	var m domain.Message
	if snap.Version != domain.NoStream {
		if m, err = decode(snap.State, snap.Version); err != nil {
			// one this version cannot read: the stream makes a new one
			if evs, err = s.store.ReadStream(ctx, stream); err != nil {
				return domain.Message{}, fmt.Errorf("read %s: %w", stream, err)
			}
			m = domain.Message{}
		}
	}
	if err := applyAll(&m, evs, stream); err != nil {
		return domain.Message{}, err
	}
	if save {
		s.saveSnapshot(ctx, stream, m, evs[len(evs)-1].ID)
	}
	return m, nil
}

// saveSnapshot keeps m, whose last event is lastID, as its stream's
// snapshot. It is a cache: a failure costs the next load a longer replay,
// and fails nothing.
func (s *Service) saveSnapshot(ctx context.Context, stream string, m domain.Message, lastID string) {
	state, err := m.Snapshot()
	if err != nil {
		return
	}
	_ = s.snapshots.SaveSnapshot(ctx, stream, domain.Snapshot{Version: m.Version(), EventID: lastID, State: state})
}

// replay is a message's state from every event of its stream.
func (s *Service) replay(ctx context.Context, stream string) (domain.Message, error) {
	evs, err := s.store.ReadStream(ctx, stream)
	if err != nil {
		return domain.Message{}, fmt.Errorf("read %s: %w", stream, err)
	}
	var m domain.Message
	if err := applyAll(&m, evs, stream); err != nil {
		return domain.Message{}, err
	}
	return m, nil
}

func applyAll(m *domain.Message, evs []domain.Event, stream string) error {
	for _, e := range evs {
		if err := m.Apply(e); err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
	}
	return nil
}

// RecordAuditQuery records that the audit log was searched or exported.
func (s *Service) RecordAuditQuery(ctx context.Context, t domain.Tenant, q domain.AuditQueried) error {
	ev := domain.NewEvent(uuid.NewString(), t, s.clock.Now(), q)
	if _, err := s.store.Append(ctx, domain.AuditStream(t), domain.AnyVersion, []domain.Event{ev}); err != nil {
		return fmt.Errorf("record audit query: %w", err)
	}
	return nil
}
