// Package audittest tampers with a stored audit log the way an insider
// with write access to the data directory could, for the tests that prove
// each tamper is caught. Only tests import it.
package audittest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
)

func entryPrefix(tenant string) []byte { return append(append([]byte("e\x00"), tenant...), 0) }

// RewriteFrom changes every stored entry of tenant from seq on with change
// and recomputes what an insider who knows the formats would: each
// rewritten entry's chain hash, every later prev_hash and hash, and the
// head. The tree is left as it was (RebuildTree recomputes it too).
func RewriteFrom(rm projections.Store, tenant string, seq uint64, change func(*auditlog.Entry)) error {
	return rm.Update(auditlog.Name, func(tx projections.Tx) error {
		prefix := entryPrefix(tenant)
		var entries []auditlog.Entry
		var decodeErr error
		if err := tx.Scan(prefix, projections.PrefixEnd(prefix), false, func(_, v []byte) bool {
			var e auditlog.Entry
			decodeErr = json.Unmarshal(v, &e)
			entries = append(entries, e)
			return decodeErr == nil
		}); err != nil || decodeErr != nil {
			return fmt.Errorf("read entries: %v %v", err, decodeErr)
		}
		if len(entries) == 0 {
			return fmt.Errorf("no entries of %s", tenant)
		}
		prev := entries[0].PrevHash
		for _, e := range entries {
			if e.Seq >= seq {
				change(&e)
				e.PrevHash = prev
				e.Hash = auditlog.ComputeHash(prev, e)
				b, err := json.Marshal(e)
				if err != nil {
					return err
				}
				if err := tx.Set(binary.BigEndian.AppendUint64(bytes.Clone(prefix), e.Seq), b); err != nil {
					return err
				}
			}
			prev = e.Hash
		}
		head := append(append([]byte("h\x00"), tenant...), 0)
		old, err := tx.Get(head)
		if err != nil || len(old) < 16 {
			return fmt.Errorf("head of %s: %v", tenant, err)
		}
		return tx.Set(head, append(old[:16:16], prev...)) // its seq and position, the new hash
	})
}

// RebuildTree recomputes the tenant's stored tree hashes from the entries
// as they are now, as an insider covering a rewrite would.
func RebuildTree(rm projections.Store, tenant string) error {
	if err := ForgetTree(rm, tenant); err != nil {
		return err
	}
	_, err := auditlog.MigrateTree(rm, tenant)
	return err
}

// ForgetTree removes the tenant's tree (its stored hashes, base and size),
// as a data directory written before the tree existed has none.
func ForgetTree(rm projections.Store, tenant string) error {
	return rm.Update(auditlog.Name, func(tx projections.Tx) error {
		for _, kind := range []string{"s", "b", "z"} {
			prefix := append(append([]byte(kind+"\x00"), tenant...), 0)
			var keys [][]byte
			if err := tx.Scan(prefix, projections.PrefixEnd(prefix), false, func(k, _ []byte) bool {
				keys = append(keys, bytes.Clone(k))
				return true
			}); err != nil {
				return err
			}
			for _, k := range keys {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Swap exchanges the stored entries seq a and b, as they are.
func Swap(rm projections.Store, tenant string, a, b uint64) error {
	return rm.Update(auditlog.Name, func(tx projections.Tx) error {
		ka := binary.BigEndian.AppendUint64(entryPrefix(tenant), a)
		kb := binary.BigEndian.AppendUint64(entryPrefix(tenant), b)
		va, err := tx.Get(ka)
		if err != nil {
			return err
		}
		vb, err := tx.Get(kb)
		if err != nil {
			return err
		}
		if va == nil || vb == nil {
			return fmt.Errorf("entries %d and %d: not both stored", a, b)
		}
		if err := tx.Set(ka, vb); err != nil {
			return err
		}
		return tx.Set(kb, va)
	})
}
