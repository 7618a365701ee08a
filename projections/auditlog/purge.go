package auditlog

import (
	"fmt"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/codec"
	"github.com/recallledger/recall/projections"
)

// purgeBatch bounds the entries one purge transaction deletes.
const purgeBatch = 10_000

// Purge deletes the tenant's entries older than its audit retention at now
// (default 180 days; never less than the policy's message retention and
// recall windows, see domain.Policy.AuditRetention), oldest first, and moves the chain's anchor to the
// last one deleted, so Verify still checks everything kept. It returns how
// many entries it deleted and the anchor's position: the events at or
// before it may now be purged from the store (see Anchor).
//
// Purge may run while the live runner appends to the same chain: each
// batch is one Update of the audit log's namespace, and the Store runs
// the namespace's Updates one at a time (projections.Store), so a purge
// never sees a head or an entry the runner is about to change.
func Purge(store projections.Store, tenant string, now time.Time) (int, uint64, error) {
	n, pos, _, err := PurgeHeld(store, tenant, now, nil, nil)
	return n, pos, err
}

// HeldFunc tells which legal holds keep the content ref names (and its
// audit entries): their ids, none when nothing keeps it.
type HeldFunc func(ref domain.ContentRef) ([]string, error)

// ShredFunc destroys the content keys of entries about to be purged
// (adapters/retention hands it the keyring's ShredAll).
type ShredFunc func(doomed []Entry) error

// PurgeHeld is Purge that keeps what a legal hold keeps and destroys the
// content keys of what it removes.
//
// It stops at the first entry past retention that held names a hold for,
// and returns those holds (keptBy; none when nothing held the purge
// back). The chain is purged from its start, so the entries after a held
// one wait too, until the hold is released: a hold keeps its entries, and
// the events behind them in the store, whatever the retention (kept
// longer, never shorter). held nil holds nothing.
//
// Each batch of entries about to go is first handed to shred: a batch's
// entries are deleted only once shred returned nil, so a crash between the
// two leaves entries whose keys are gone, and the next run deletes them.
// shred nil shreds nothing (content recorded in plaintext).
func PurgeHeld(store projections.Store, tenant string, now time.Time, held HeldFunc, shred ShredFunc) (removed int, upTo uint64, keptBy []string, err error) {
	// entries written before the tree existed join it before any goes
	if _, err := MigrateTree(store, tenant); err != nil {
		return 0, 0, nil, err
	}
	var tn domain.Tenant
	if held != nil {
		if tn, err = domain.ParseTenant(tenant); err != nil {
			return 0, 0, nil, fmt.Errorf("purge audit log: %w", err)
		}
	}
	for {
		n, pos, by, err := purgeSome(store, tenant, tn, now, held, shred)
		removed += n
		upTo = max(upTo, pos)
		if err != nil || n < purgeBatch || len(by) > 0 {
			return removed, upTo, by, err
		}
	}
}

// entryRef is the content an audit entry is about, as a hold matches it:
// a send's sender, conversation and time; any other entry's conversation
// and time (a tenant hold over its time keeps it).
func entryRef(t domain.Tenant, e Entry) domain.ContentRef {
	ref := domain.ContentRef{Tenant: t, MsgID: domain.MsgID(e.MsgID), ConversationID: e.ConversationID, SentAt: e.At.Time()}
	if e.Action == ActionSend {
		ref.From = domain.UserID(e.Actor)
	}
	return ref
}

func purgeSome(store projections.Store, tenant string, tn domain.Tenant, now time.Time, held HeldFunc, shred ShredFunc) (int, uint64, []string, error) {
	n, lastPos := 0, uint64(0)
	var keptBy []string
	err := store.Update(Name, func(tx projections.Tx) error {
		pol := policyState(domain.DefaultPolicy())
		if _, err := getState(tx, policyKey(tenant), &pol); err != nil {
			return err
		}
		cutoff := now.Add(-pol.retention())
		var anchor link
		if _, err := getState(tx, anchorKey(tenant), &anchor); err != nil {
			return err
		}
		prefix := tkey("e", tenant)
		var doomed []Entry
		var scanErr error
		err := tx.Scan(prefix, projections.PrefixEnd(prefix), false, func(_, v []byte) bool {
			var e Entry
			if scanErr = codec.Unmarshal(v, &e); scanErr != nil {
				return false
			}
			if !e.At.Time().Before(cutoff) || len(doomed) == purgeBatch {
				return false
			}
			if held != nil {
				if keptBy, scanErr = held(entryRef(tn, e)); scanErr != nil || len(keptBy) > 0 {
					return false
				}
			}
			doomed = append(doomed, e)
			return true
		})
		if err == nil {
			err = scanErr
		}
		if err != nil || len(doomed) == 0 {
			return err
		}
		if shred != nil {
			if err := shred(doomed); err != nil {
				return err
			}
		}
		for _, e := range doomed {
			keys := [][]byte{entryKey(tenant, e.Seq), timeKey(tenant, e.At.UnixMilli(), e.Seq)}
			for _, f := range indexed(e) {
				if f[1] != "" {
					keys = append(keys, indexKey(tenant, f[0], f[1], e.Seq))
				}
			}
			if e.Action == ActionSend {
				keys = append(keys, msgKey(tenant, e.MsgID))
			}
			for _, k := range keys {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
			lastPos = max(lastPos, e.Position)
		}
		last := doomed[len(doomed)-1]
		n = len(doomed)
		// a purged entry keeps its leaf: its stored hashes stay, for the
		// proofs of the entries after it
		if _, _, err := growTree(tx, tenant, last.Seq, 0); err != nil {
			return err
		}
		var head link
		if _, err := getState(tx, headKey(tenant), &head); err != nil {
			return err
		}
		if head.Seq <= last.Seq {
			// nothing after the anchor: the chain continues from the anchor,
			// as it does in a rebuild, which has no head
			if err := tx.Delete(headKey(tenant)); err != nil {
				return err
			}
		}
		return setState(tx, anchorKey(tenant), link{Seq: last.Seq, Hash: last.Hash, Position: last.Position})
	})
	if err != nil {
		return 0, 0, nil, fmt.Errorf("purge audit log of %s: %w", tenant, err)
	}
	return n, lastPos, keptBy, nil
}

// Anchor returns the position of the tenant's anchor: events at or before
// it have no audit entry any more. 0 when nothing was purged.
func Anchor(store projections.Store, tenant string) (uint64, error) {
	var a link
	err := store.View(Name, func(tx projections.Tx) error {
		_, err := getState(tx, anchorKey(tenant), &a)
		return err
	})
	return a.Position, err
}
