package ledger

import (
	"context"
	"fmt"
	"sync"

	"github.com/recallledger/recall/domain"
)

// feedPolicy reads how the feed carries the tenant's events: its policy
// history from the tenant stream (domain.FeedPolicy).
func (s *Service) feedPolicy(ctx context.Context, t domain.Tenant) (domain.FeedPolicy, error) {
	stream := domain.TenantStream(t)
	evs, err := s.store.ReadStream(ctx, stream)
	if err != nil {
		return domain.FeedPolicy{}, fmt.Errorf("read %s: %w", stream, err)
	}
	return domain.NewFeedPolicy(evs), nil
}

// Redactor applies each tenant's feed_content to events on their way out
// (GET …/events, `recallctl export events`, the bus), with
// domain.RedactForFeed; under plaintext it decrypts a sealed send's live
// copy, or marks it content_redacted "shredded" once its key is gone. It reads a tenant's policy history once and keeps
// it; a TenantPolicySet passing through drops it, so a reader that follows
// the log reads the history again with that change in it. The current
// policy is also taken from the service's policy cache, which a change
// made here updates at once: tightening the feed applies to the next event
// out, even before a lagging reader reaches the change. Safe for
// concurrent use.
type Redactor struct {
	s *Service
	// copy is which sealed copy plaintext is decrypted from: the live one
	// for the feed, the audit one for the audit reads (AuditRedactor).
	copy     domain.KeyPurpose
	mu       sync.Mutex
	policies map[string]domain.FeedPolicy
}

// Redactor returns a new redactor over the service's store, for the feed.
func (s *Service) Redactor() *Redactor {
	return &Redactor{s: s, copy: domain.PurposeLive, policies: map[string]domain.FeedPolicy{}}
}

// AuditRedactor is Redactor for an audit read of events (the console's
// message story): plaintext comes from the audit copy, which outlives a
// recall while the tenant keeps recalled content in its audit log.
func (s *Service) AuditRedactor() *Redactor {
	r := s.Redactor()
	r.copy = domain.PurposeAudit
	return r
}

// Redact returns e as the feed carries it, and whether that differs from
// e: an event that was not redacted may go out as its stored JSON.
func (r *Redactor) Redact(ctx context.Context, e domain.Event) (domain.Event, bool, error) {
	if e.Type() == domain.TypeTenantPolicySet {
		r.mu.Lock()
		delete(r.policies, e.Tenant)
		r.mu.Unlock()
	}
	if e.Type() != domain.TypeMessageSent {
		return e, false, nil
	}
	t, err := domain.ParseTenant(e.Tenant)
	if err != nil {
		return domain.Event{}, false, fmt.Errorf("redact %s: %w", e.ID, err)
	}
	r.mu.Lock()
	f, ok := r.policies[e.Tenant]
	r.mu.Unlock()
	if !ok {
		if f, err = r.s.feedPolicy(ctx, t); err != nil {
			return domain.Event{}, false, err
		}
		r.mu.Lock()
		r.policies[e.Tenant] = f
		r.mu.Unlock()
	}
	current, err := r.s.Policy(ctx, t)
	if err != nil {
		return domain.Event{}, false, err
	}
	mode := f.At(e.Position).Stricter(current.FeedContent)
	out, redacted := domain.RedactForFeed(e, mode)
	sent, ok := out.Data.(domain.MessageSent)
	sealed := sent.ContentLive
	if r.copy == domain.PurposeAudit {
		sealed = sent.ContentAudit
	}
	if ok && mode == domain.FeedPlaintext && sealed != nil {
		// plaintext is decrypted here, at the edge, from the copy this
		// redactor reads: never once its key is destroyed
		var opener domain.ContentOpener
		if r.s.keys != nil {
			opener = r.s.keys
		}
		content, marker, err := domain.Reveal(ctx, opener, t, sent.MsgID, r.copy, *sealed)
		if err != nil {
			return domain.Event{}, false, fmt.Errorf("redact %s: %w", e.ID, err)
		}
		sent.Content, sent.ContentRedacted = content, marker
		out.Data = sent
		redacted = true
	}
	return out, redacted, nil
}
