// Package retention applies a tenant's audit retention: audit entries older
// than audit_retention_s go, the chain's anchor moves past them, and the
// events behind them are removed from the embedded store.
//
// The order is what makes it crash-safe: the read model is purged first
// (its anchor records how far), then the store up to the anchor. A crash in
// between leaves events the audit log no longer shows; the next run finds
// the anchor ahead of the store's purge point and finishes the job.
package retention

import (
	"context"
	"fmt"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
)

// Result says what one run removed.
type Result struct {
	Entries int    // audit entries
	Events  int    // events in the store
	UpTo    uint64 // the anchor's position
	// HeldBy names the legal holds that kept entries past retention: the
	// purge stopped at the first one they keep.
	HeldBy []string
}

// Apply runs the tenant's retention at now. What a legal hold covers
// (holds asks) is kept, with its events, until the hold is released.
func Apply(ctx context.Context, rm projections.Store, store domain.TenantPurger, holds domain.HoldChecker, tenant string, now time.Time) (Result, error) {
	var res Result
	held := func(ref domain.ContentRef) ([]string, error) { return holds.Held(ctx, ref) }
	n, _, heldBy, err := auditlog.PurgeHeld(rm, tenant, now, held)
	if err != nil {
		return res, err
	}
	res.Entries, res.HeldBy = n, heldBy
	if res.UpTo, err = auditlog.Anchor(rm, tenant); err != nil || res.UpTo == 0 {
		return res, err
	}
	if res.Events, err = store.PurgeTenant(ctx, tenant, res.UpTo); err != nil {
		return res, fmt.Errorf("retention of %s: %w", tenant, err)
	}
	return res, nil
}
