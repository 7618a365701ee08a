package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/recallledger/recall/domain"
)

// Policy returns the tenant's current policy: the last TenantPolicySet on
// its stream, or the default (version 0) if none was ever set.
//
// Policies are cached: every change made through this service updates the
// cache after its append, so one process always decides by the newest
// policy it has recorded.
func (s *Service) Policy(ctx context.Context, t domain.Tenant) (domain.Policy, error) {
	s.mu.Lock()
	c, ok := s.policies[t]
	s.mu.Unlock()
	if ok {
		return c.policy, nil
	}
	c, err := s.loadPolicy(ctx, t)
	if err != nil {
		return domain.Policy{}, err
	}
	s.remember(t, c)
	return c.policy, nil
}

// SetPolicy replaces the tenant's policy with p as its next version,
// whatever the current version is.
func (s *Service) SetPolicy(ctx context.Context, t domain.Tenant, p domain.Policy, changedBy string) (domain.Policy, error) {
	return s.ChangePolicy(ctx, t, PolicyChange{
		Make:      func(domain.Policy) (domain.Policy, error) { return p, nil },
		ChangedBy: changedBy,
	})
}

// PolicyChange is a change of a tenant's policy.
type PolicyChange struct {
	// Match, when set, is the precondition: it is given the current
	// version, and a change whose Match is false is refused with a
	// *domain.VersionConflictError.
	Match func(current int64) bool
	// Make returns the new policy from the current one (a replacement
	// ignores it; a patch applies itself to it). It may be called again
	// after a concurrent change, with the newer policy.
	Make      func(current domain.Policy) (domain.Policy, error)
	ChangedBy string
}

// ChangePolicy records c as the tenant's next policy version and returns
// the policy now in force. The precondition is checked against the same
// read of the tenant stream whose version the append expects, so a change
// made by anyone between the check and the append fails the append, and
// the check is made again against the newer policy: a change can never
// be recorded over a version its caller did not see. A change that
// changes nothing records nothing and keeps the version.
func (s *Service) ChangePolicy(ctx context.Context, t domain.Tenant, c PolicyChange) (domain.Policy, error) {
	stream := domain.TenantStream(t)
	for range maxAttempts {
		cur, err := s.loadPolicy(ctx, t)
		if err != nil {
			return domain.Policy{}, err
		}
		if c.Match != nil && !c.Match(cur.policy.Version) {
			return domain.Policy{}, &domain.VersionConflictError{Current: cur.policy.Version}
		}
		p, err := c.Make(cur.policy)
		if err != nil {
			return domain.Policy{}, err
		}
		set := p.Next(cur.policy, c.ChangedBy)
		if len(set.Changes) == 0 {
			s.remember(t, cur)
			return cur.policy, nil
		}
		ev := domain.NewEvent(uuid.NewString(), t, s.clock.Now(), set)
		stored, err := s.store.Append(ctx, stream, cur.version, []domain.Event{ev})
		var wrong *domain.WrongVersionError
		if errors.As(err, &wrong) {
			continue
		}
		if err != nil {
			return domain.Policy{}, fmt.Errorf("set policy of %s: %w", t, err)
		}
		s.remember(t, cachedPolicy{policy: set.Policy, version: stored.Events[0].StreamVersion})
		return set.Policy, nil
	}
	return domain.Policy{}, fmt.Errorf("set policy of %s: %w", t, ErrContention)
}

// remember caches c unless a newer version is cached already.
func (s *Service) remember(t domain.Tenant, c cachedPolicy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.policies[t]; !ok || old.version < c.version {
		s.policies[t] = c
	}
}

func (s *Service) loadPolicy(ctx context.Context, t domain.Tenant) (cachedPolicy, error) {
	stream := domain.TenantStream(t)
	evs, err := s.store.ReadStream(ctx, stream)
	if err != nil {
		return cachedPolicy{}, fmt.Errorf("read %s: %w", stream, err)
	}
	c := cachedPolicy{policy: domain.DefaultPolicy(), version: domain.NoStream}
	for _, e := range evs {
		c.version = e.StreamVersion
		if set, ok := e.Data.(domain.TenantPolicySet); ok {
			c.policy = set.Policy
		}
	}
	return c, nil
}

// ObservePolicy updates the cache from a TenantPolicySet read from the
// log, so a change another node made is used here from then on; other
// events are ignored.
func (s *Service) ObservePolicy(e domain.Event) error {
	set, ok := e.Data.(domain.TenantPolicySet)
	if !ok {
		return nil
	}
	t, err := domain.ParseTenant(e.Tenant)
	if err != nil {
		return fmt.Errorf("policy event %s: %w", e.ID, err)
	}
	s.remember(t, cachedPolicy{policy: set.Policy, version: e.StreamVersion})
	return nil
}
