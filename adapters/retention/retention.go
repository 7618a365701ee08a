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
	"github.com/recallledger/recall/domain/keyring"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
)

// Result says what one run removed.
type Result struct {
	Entries int    // audit entries
	Events  int    // events in the store
	UpTo    uint64 // the anchor's position
	// Shredded counts the sends whose content keys were destroyed, Held
	// those whose keys a legal hold kept (a hold placed while the purge
	// ran: the purge itself stops before what a hold covers).
	Shredded, Held int
	// HeldBy names the legal holds that kept entries past retention: the
	// purge stopped at the first one they keep.
	HeldBy []string
}

// Apply runs the tenant's retention at now. What a legal hold covers
// (holds asks; nil: nothing is held) is kept, with its events and its
// content keys, until the hold is released. The content keys (audit and
// live) of every send whose audit entry goes are destroyed through keys
// before the entry goes: retention is key destruction, on every event
// store — on EventStoreDB, whose log keeps the sealed sends, the
// ciphertext left there no longer opens. keys nil destroys none (content
// recorded in plaintext); its ShredAll asks its own hold checker again,
// which recalld sets to the same holds.
func Apply(ctx context.Context, rm projections.Store, store domain.TenantPurger, keys *keyring.Keyring, holds domain.HoldChecker, tenant string, now time.Time) (Result, error) {
	var res Result
	var held auditlog.HeldFunc
	if holds != nil {
		held = func(ref domain.ContentRef) ([]string, error) { return holds.Held(ctx, ref) }
	}
	var shred auditlog.ShredFunc
	if keys != nil {
		tn, err := domain.ParseTenant(tenant)
		if err != nil {
			return res, err
		}
		shred = func(doomed []auditlog.Entry) error {
			var items []keyring.ShredItem
			for _, e := range doomed {
				if ref, ids, ok := auditlog.ContentKeys(tn, e); ok {
					items = append(items, keyring.ShredItem{Ref: ref, KeyIDs: ids})
				}
			}
			out, err := keys.ShredAll(ctx, items, domain.ShredRetention)
			for _, o := range out {
				if o.Held() {
					res.Held++
				} else {
					res.Shredded++
				}
			}
			return err
		}
	}
	n, _, heldBy, err := auditlog.PurgeHeld(rm, tenant, now, held, shred)
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
