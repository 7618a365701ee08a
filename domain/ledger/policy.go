package ledger

import (
	"context"
	"fmt"
	"time"

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
	var set domain.TenantPolicySet
	r, err := run(ctx, s, command[domain.Policy]{
		tenant: t, what: "set policy of " + t.String(),
		load: func(ctx context.Context) (domain.Policy, int64, error) {
			cur, err := s.loadPolicy(ctx, t)
			return cur.policy, cur.version, err
		},
		decide: func(cur domain.Policy, version int64, _ time.Time) (change, error) {
			if c.Match != nil && !c.Match(cur.Version) {
				return change{}, &domain.VersionConflictError{Current: cur.Version}
			}
			p, err := c.Make(cur)
			if err != nil {
				return change{}, err
			}
			if set = p.Next(cur, c.ChangedBy); len(set.Changes) == 0 {
				return change{}, nil // nothing changes: nothing recorded, the version kept
			}
			return appendTo(stream, version, set), nil
		},
	})
	if err != nil {
		return domain.Policy{}, err
	}
	if len(r.stored.Events) == 0 {
		s.remember(t, cachedPolicy{policy: r.state, version: r.version})
		return r.state, nil
	}
	s.remember(t, cachedPolicy{policy: set.Policy, version: r.stored.Events[0].StreamVersion})
	return set.Policy, nil
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
