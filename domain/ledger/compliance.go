package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/recallledger/recall/domain"
)

// Legal holds and erasure requests, decided by the domain and recorded on
// their own streams: a tenant's holds on its hold stream, each erasure on
// a stream of its own. The hold stream is the one source of whether a hold
// covers content (Held): it is read from the log at each check, never from
// a read model that could lag behind a hold just placed.

// applier is a state rebuilt by applying a stream's events.
type applier[S any] interface {
	*S
	Apply(domain.Event) error
}

// fold reads stream and applies its events to a zero S.
func fold[S any, P applier[S]](ctx context.Context, store domain.EventStore, stream string) (S, error) {
	var st S
	evs, err := store.ReadStream(ctx, stream)
	if err != nil {
		return st, fmt.Errorf("read %s: %w", stream, err)
	}
	for _, e := range evs {
		if err := P(&st).Apply(e); err != nil {
			return st, fmt.Errorf("read %s: %w", stream, err)
		}
	}
	return st, nil
}

// Now is the server's time, by the clock the ledger decides by.
func (s *Service) Now() time.Time { return s.clock.Now() }

// Holds returns the tenant's legal holds, released ones included.
func (s *Service) Holds(ctx context.Context, t domain.Tenant) (domain.Holds, error) {
	return fold[domain.Holds](ctx, s.store, domain.HoldStream(t))
}

func (s *Service) holdsCommand(t domain.Tenant, what string, decide func(domain.Holds, int64) (change, error)) command[domain.Holds] {
	return command[domain.Holds]{
		tenant: t, what: what,
		load: func(ctx context.Context) (domain.Holds, int64, error) {
			hs, err := s.Holds(ctx, t)
			return hs, hs.Version(), err
		},
		decide: func(hs domain.Holds, version int64, _ time.Time) (change, error) { return decide(hs, version) },
	}
}

// PlaceHold records a new legal hold and returns it as recorded.
func (s *Service) PlaceHold(ctx context.Context, t domain.Tenant, cmd domain.PlaceHold) (domain.Hold, error) {
	r, err := run(ctx, s, s.holdsCommand(t, "place hold "+cmd.ID, func(hs domain.Holds, version int64) (change, error) {
		p, err := domain.DecidePlaceHold(cmd, hs)
		return appendTo(domain.HoldStream(t), version, p), err
	}))
	if err != nil {
		return domain.Hold{}, err
	}
	return holdAfter(r, cmd.ID)
}

// ReleaseHold records the release of hold id and returns the hold as it
// is now; released is false when it was released already.
func (s *Service) ReleaseHold(ctx context.Context, t domain.Tenant, id, reason, by string) (h domain.Hold, released bool, err error) {
	r, err := run(ctx, s, s.holdsCommand(t, "release hold "+id, func(hs domain.Holds, version int64) (change, error) {
		p, err := domain.DecideReleaseHold(id, reason, by, hs)
		if err != nil || p == nil {
			return change{}, err
		}
		return appendTo(domain.HoldStream(t), version, *p), nil
	}))
	if err != nil {
		return domain.Hold{}, false, err
	}
	h, err = holdAfter(r, id)
	return h, len(r.stored.Events) > 0, err
}

// holdAfter is hold id in the state a hold command was decided against,
// with what it recorded applied.
func holdAfter(r recorded[domain.Holds], id string) (domain.Hold, error) {
	hs := r.state
	for _, e := range r.stored.Events {
		if err := hs.Apply(e); err != nil {
			return domain.Hold{}, err
		}
	}
	h, ok := hs.Find(id)
	if !ok {
		return domain.Hold{}, &domain.NotFoundError{What: "hold " + id, Code: "hold_not_found"}
	}
	return h, nil
}

// Held implements domain.HoldChecker from the tenant's hold stream: the
// holds that cover ref now.
func (s *Service) Held(ctx context.Context, ref domain.ContentRef) ([]string, error) {
	hs, err := s.Holds(ctx, ref.Tenant)
	if err != nil {
		return nil, err
	}
	return hs.Covering(ref), nil
}

// ErasureIDFor is the id of an erasure request: derived from the tenant,
// the user and the request_id (or, without one, the reason), so a repeat
// of the request is the same erasure on every instance.
func ErasureIDFor(t domain.Tenant, cmd domain.ErasureCommand) string {
	key := "request_id\x00" + cmd.RequestID
	if cmd.RequestID == "" {
		key = "reason\x00" + cmd.Reason
	}
	return uuid.NewSHA1(idNamespace, []byte("erasure\x00"+t.String()+"\x00"+string(cmd.User)+"\x00"+key)).String()
}

// Erasure returns the erasure with id; a *domain.NotFoundError
// (erasure_not_found) when the tenant has none.
func (s *Service) Erasure(ctx context.Context, t domain.Tenant, id string) (domain.Erasure, error) {
	e, err := fold[domain.Erasure](ctx, s.store, domain.ErasureStream(t, id))
	if err == nil && !e.Exists {
		err = &domain.NotFoundError{What: "erasure " + id, Code: "erasure_not_found"}
	}
	return e, err
}

// RequestErasure records an erasure request, or finds the one recorded
// for the same request, and returns it (created: this call recorded it):
// every message the user sent before its request's position is covered.
func (s *Service) RequestErasure(ctx context.Context, t domain.Tenant, cmd domain.ErasureCommand) (_ domain.Erasure, created bool, err error) {
	id := ErasureIDFor(t, cmd)
	stream := domain.ErasureStream(t, id)
	r, err := run(ctx, s, command[domain.Erasure]{
		tenant: t, what: "erasure " + id,
		load: func(ctx context.Context) (domain.Erasure, int64, error) {
			e, err := fold[domain.Erasure](ctx, s.store, stream)
			return e, e.Version(), err
		},
		decide: func(e domain.Erasure, version int64, _ time.Time) (change, error) {
			p := domain.DecideErasure(id, cmd, e)
			if p == nil {
				return change{}, nil
			}
			c := appendTo(stream, version, *p)
			c.id = uuid.NewSHA1(idNamespace, []byte("erasure-requested\x00"+t.String()+"\x00"+id)).String()
			return c, nil
		},
	})
	if err != nil {
		return domain.Erasure{}, false, err
	}
	e := r.state
	for _, ev := range r.stored.Events {
		if err := e.Apply(ev); err != nil {
			return domain.Erasure{}, false, err
		}
	}
	return e, len(r.stored.Events) > 0 && !r.stored.AlreadyStored, nil
}

// RecordErased appends one chunk of an erasure's pass, expecting the
// erasure's stream at version, and returns the stream's new version. A
// concurrent pass of the same erasure is a *domain.WrongVersionError: the
// caller reads the erasure again and goes on from there.
func (s *Service) RecordErased(ctx context.Context, t domain.Tenant, version int64, chunk domain.ContentErased) (int64, error) {
	ev := domain.NewEvent(uuid.NewString(), t, s.clock.Now(), chunk)
	st, err := s.store.Append(ctx, domain.ErasureStream(t, chunk.ErasureID), version, []domain.Event{ev})
	if err != nil {
		return 0, fmt.Errorf("erasure %s: %w", chunk.ErasureID, err)
	}
	return st.Events[len(st.Events)-1].StreamVersion, nil
}
