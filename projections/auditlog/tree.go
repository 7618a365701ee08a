package auditlog

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/codec"
	"github.com/recallledger/recall/projections"
)

// Each tenant's entries are also the leaves of a Merkle tree in the design
// of Certificate Transparency (RFC 6962), kept with Go's checksum database
// implementation, golang.org/x/mod/sumdb/tlog: leaf i is entry seq
// base+i+1, and its record hash is tlog.RecordHash of the entry's canonical
// encoding (AppendCanonical: content outside, content_sha256 inside). The
// tree's stored hashes (tlog.StoredHashes: about two per leaf) live beside
// the entries, one key per stored hash index, so appending an entry costs
// O(log n) hashes and the root of any size, an inclusion proof or a
// consistency proof costs O(log n) reads.
//
// base is 0 for every tenant whose tree was born with its log. A tenant
// whose chain was purged by retention before the tree existed cannot hash
// the purged entries any more: its tree starts at the first kept entry
// (base = the anchor's seq), and the migration that built it is recorded
// once in the tree's base record (TreeInfo.Migrated).
//
// Retention never deletes stored hashes (a purge removes entries, not the
// hashes the remaining entries' proofs and consistency proofs from older
// checkpoints need), and a rebuild keeps them: about 64 bytes per entry
// ever appended.

// treeBase is the tree's birth record, kept through rebuilds: where its
// leaves start and what the migration that built it covered.
type treeBase struct {
	Base uint64 // leaf i is entry seq Base+i+1
	// Migrated is how many entries already existed when the tree was
	// built from them (0: the tree was born with the log's first entry).
	Migrated uint64
}

func (b treeBase) MarshalBinary() ([]byte, error) {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(make([]byte, 0, 16), b.Base), b.Migrated), nil
}

func (b *treeBase) UnmarshalBinary(p []byte) error {
	if len(p) != 16 {
		return fmt.Errorf("audit tree base: %d bytes", len(p))
	}
	b.Base, b.Migrated = binary.BigEndian.Uint64(p), binary.BigEndian.Uint64(p[8:])
	return nil
}

func treeBaseKey(tenant string) []byte { return tkey("b", tenant) }
func treeSizeKey(tenant string) []byte { return tkey("z", tenant) }
func storedHashKey(tenant string, index int64) []byte {
	return tkey("s", tenant, seqBytes(uint64(index)))
}

// RecordHash is entry e's leaf hash: tlog.RecordHash of its canonical
// encoding. Content, PrevHash and Hash play no part.
func RecordHash(e Entry) tlog.Hash {
	var buf [512]byte
	return tlog.RecordHash(AppendCanonical(buf[:0], e))
}

// hashReader reads a tenant's stored hashes in a transaction.
type hashReader struct {
	tx     projections.Tx
	tenant string
}

func (r hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	keys := make([][]byte, len(indexes))
	for i, x := range indexes {
		keys[i] = storedHashKey(r.tenant, x)
	}
	values, err := r.tx.GetMany(keys)
	if err != nil {
		return nil, err
	}
	out := make([]tlog.Hash, len(indexes))
	for i, v := range values {
		if len(v) != tlog.HashSize {
			return nil, fmt.Errorf("audit tree of %s: stored hash %d is missing", r.tenant, indexes[i])
		}
		copy(out[i][:], v)
	}
	return out, nil
}

// treeState is a tenant's tree as a transaction sees it.
type treeState struct {
	treeBase
	Born bool   // the base record exists
	Size uint64 // leaves
}

// loadTree reads the tenant's tree. Once built, the tree has a leaf for
// every entry up to the head (or, after a purge of everything, the anchor):
// its size is not stored but follows from the head, so an append writes
// only its hashes. Only a migration in progress stores the size it got
// to. A rebuild drops the head but keeps the base, the anchor and the
// stored hashes: the tree then covers every entry up to the anchor (a
// purge adds entries to the tree before deleting them), and the rebuild
// appends from there.
func loadTree(tx projections.Tx, tenant string) (treeState, error) {
	var st treeState
	found, err := getState(tx, treeBaseKey(tenant), &st.treeBase)
	if err != nil || !found {
		return st, err
	}
	st.Born = true
	b, err := tx.Get(treeSizeKey(tenant))
	switch {
	case err != nil:
		return st, err
	case b != nil && len(b) != 8:
		return st, fmt.Errorf("audit tree size of %s: %d bytes", tenant, len(b))
	case b != nil:
		st.Size = binary.BigEndian.Uint64(b)
	default:
		var anchor, head link
		if _, err := getState(tx, anchorKey(tenant), &anchor); err != nil {
			return st, err
		}
		if _, err := getState(tx, headKey(tenant), &head); err != nil {
			return st, err
		}
		last := max(anchor.Seq, head.Seq)
		st.Size = last - min(last, st.Base)
	}
	return st, nil
}

// appendLeaf adds entry seq, of record hash rh, as the tree's next leaf.
func appendLeaf(tx projections.Tx, tenant string, st *treeState, seq uint64, rh tlog.Hash) error {
	if seq != st.Base+st.Size+1 {
		return fmt.Errorf("audit tree of %s: entry %d would be leaf %d, which belongs to entry %d", tenant, seq, st.Size, st.Base+st.Size+1)
	}
	n := int64(st.Size)
	hashes, err := tlog.StoredHashesForRecordHash(n, rh, hashReader{tx, tenant})
	if err != nil {
		return fmt.Errorf("audit tree of %s at leaf %d: %w", tenant, n, err)
	}
	first := tlog.StoredHashIndex(0, n)
	for i, h := range hashes {
		if err := tx.Set(storedHashKey(tenant, first+int64(i)), h[:]); err != nil {
			return err
		}
	}
	st.Size++
	return nil
}

// growTree brings the tenant's tree up to entry upTo, hashing at most
// limit stored entries (0: all), and reports whether it got there. Entries
// written before the tree existed are added here, once: that is the
// migration, recorded in the base.
func growTree(tx projections.Tx, tenant string, upTo uint64, limit int) (treeState, bool, error) {
	st, err := loadTree(tx, tenant)
	if err != nil {
		return st, false, err
	}
	if !st.Born {
		var anchor link
		if _, err := getState(tx, anchorKey(tenant), &anchor); err != nil {
			return st, false, err
		}
		// entries up to the anchor were purged before the tree existed
		st = treeState{treeBase: treeBase{Base: anchor.Seq, Migrated: upTo - min(upTo, anchor.Seq)}, Born: true}
		if err := setState(tx, treeBaseKey(tenant), st.treeBase); err != nil {
			return st, false, err
		}
	}
	added := 0
	for st.Base+st.Size < upTo && (limit <= 0 || added < limit) {
		chunk := int(min(upTo-st.Base-st.Size, 1000))
		if limit > 0 {
			chunk = min(chunk, limit-added)
		}
		from := st.Base + st.Size + 1
		var entries []Entry
		var decodeErr error
		err := tx.Scan(entryKey(tenant, from), entryKey(tenant, from+uint64(chunk)), false, func(_, v []byte) bool {
			var e Entry
			if decodeErr = codec.Unmarshal(v, &e); decodeErr != nil {
				return false
			}
			entries = append(entries, e)
			return true
		})
		if err == nil {
			err = decodeErr
		}
		if err != nil {
			return st, false, fmt.Errorf("audit tree of %s: read entries from %d: %w", tenant, from, err)
		}
		for _, e := range entries {
			if err := appendLeaf(tx, tenant, &st, e.Seq, RecordHash(e)); err != nil {
				return st, false, fmt.Errorf("%w (run audit verify: an entry is missing or renumbered)", err)
			}
		}
		if len(entries) < chunk {
			return st, false, fmt.Errorf("audit tree of %s: entry %d is missing (run audit verify)", tenant, st.Base+st.Size+1)
		}
		added += len(entries)
	}
	done := st.Base+st.Size >= upTo
	if added == 0 {
		return st, done, nil
	}
	if done { // the tree has every entry: its size follows from the head again
		return st, true, tx.Delete(treeSizeKey(tenant))
	}
	return st, false, tx.Set(treeSizeKey(tenant), binary.BigEndian.AppendUint64(nil, st.Size))
}

// addToTree appends entry seq, the tenant's next, of record hash rh
// (RecordHash), to its tree: the one call the chain append makes.
func addToTree(tx projections.Tx, tenant string, seq uint64, rh tlog.Hash) error {
	st, _, err := growTree(tx, tenant, seq-1, 0)
	if err != nil {
		return err
	}
	return appendLeaf(tx, tenant, &st, seq, rh)
}

// MigrateTree builds the tree of a tenant whose entries were written before
// the tree existed, in batches, so the one-time migration of a large log
// is not one huge transaction. It returns how many entries it added; a
// tenant whose tree is complete costs one read.
func MigrateTree(store projections.Store, tenant string) (int, error) {
	const batch = 10_000
	total := 0
	for {
		done := false
		before := uint64(0)
		var st treeState
		err := store.Update(Name, func(tx projections.Tx) error {
			var head, anchor link
			if _, err := getState(tx, headKey(tenant), &head); err != nil {
				return err
			}
			if _, err := getState(tx, anchorKey(tenant), &anchor); err != nil {
				return err
			}
			last := max(head.Seq, anchor.Seq)
			cur, err := loadTree(tx, tenant)
			if err != nil {
				return err
			}
			if last == 0 || cur.Born && cur.Base+cur.Size >= last {
				done = true // nothing to migrate: no log yet, or the tree is complete
				return nil
			}
			before = cur.Size
			st, done, err = growTree(tx, tenant, last, batch)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("migrate audit tree of %s: %w", tenant, err)
		}
		total += int(st.Size - min(st.Size, before))
		if done {
			return total, nil
		}
	}
}

// TreeInfo is a tenant's tree at one size.
type TreeInfo struct {
	Size uint64    `json:"size"`      // leaves
	Base uint64    `json:"base"`      // leaf i is entry seq base+i+1
	Root tlog.Hash `json:"root_hash"` // tlog's base64
	// Migrated is how many entries were added when the tree was built over
	// an existing log (0: born with the log).
	Migrated uint64 `json:"migrated,omitempty"`
}

// Tree returns the tenant's current tree: its size and root.
func Tree(store projections.Store, tenant string) (TreeInfo, error) {
	var info TreeInfo
	err := store.View(Name, func(tx projections.Tx) error {
		st, err := loadTree(tx, tenant)
		if err != nil {
			return err
		}
		info = TreeInfo{Size: st.Size, Base: st.Base, Migrated: st.Migrated}
		info.Root, err = tlog.TreeHash(int64(st.Size), hashReader{tx, tenant})
		return err
	})
	if err != nil {
		return TreeInfo{}, fmt.Errorf("audit tree of %s: %w", tenant, err)
	}
	return info, nil
}

// treeAt checks that size is a size the tenant's tree has had.
func treeAt(tx projections.Tx, tenant string, size uint64) (treeState, error) {
	st, err := loadTree(tx, tenant)
	if err != nil {
		return st, err
	}
	if size == 0 || size > st.Size {
		return st, &domain.InvalidError{Code: "invalid_size", Msg: fmt.Sprintf("size %d: the audit tree has %d entries; want 1 to %d", size, st.Size, st.Size)}
	}
	return st, nil
}

// RootAt is the root hash of the tenant's tree at an earlier size.
func RootAt(store projections.Store, tenant string, size uint64) (tlog.Hash, error) {
	var root tlog.Hash
	err := store.View(Name, func(tx projections.Tx) error {
		if _, err := treeAt(tx, tenant, size); err != nil {
			return err
		}
		var err error
		root, err = tlog.TreeHash(int64(size), hashReader{tx, tenant})
		return err
	})
	return root, err
}

// Inclusion proves that an entry is a leaf of the tree of a size.
type Inclusion struct {
	Entry      Entry
	LeafIndex  uint64
	RecordHash tlog.Hash
	Proof      tlog.RecordProof
}

// ProveInclusion returns entry seq with its inclusion proof in the tree of
// size. An entry removed by retention is not found (its hashes remain, so
// the others' proofs still verify).
func ProveInclusion(store projections.Store, tenant string, seq, size uint64) (Inclusion, error) {
	var inc Inclusion
	err := store.View(Name, func(tx projections.Tx) error {
		st, err := treeAt(tx, tenant, size)
		if err != nil {
			return err
		}
		if seq <= st.Base || seq > st.Base+size {
			return &domain.InvalidError{Code: "invalid_seq", Msg: fmt.Sprintf("seq %d is not in the tree of size %d (entries %d to %d)", seq, size, st.Base+1, st.Base+size)}
		}
		found, err := projections.GetJSON(tx, entryKey(tenant, seq), &inc.Entry)
		if err != nil {
			return err
		}
		if !found {
			return &domain.NotFoundError{What: fmt.Sprintf("audit entry %d (removed by retention)", seq)}
		}
		inc.LeafIndex = seq - st.Base - 1
		inc.RecordHash = RecordHash(inc.Entry)
		inc.Proof, err = tlog.ProveRecord(int64(size), int64(inc.LeafIndex), hashReader{tx, tenant})
		return err
	})
	if err != nil {
		return Inclusion{}, fmt.Errorf("audit inclusion proof of %d in %s: %w", seq, tenant, err)
	}
	return inc, nil
}

// ProveConsistency proves that the tenant's tree of size from is a prefix
// of its tree of size to.
func ProveConsistency(store projections.Store, tenant string, from, to uint64) (tlog.TreeProof, error) {
	var proof tlog.TreeProof
	err := store.View(Name, func(tx projections.Tx) error {
		if _, err := treeAt(tx, tenant, to); err != nil {
			return err
		}
		if from == 0 || from > to {
			return &domain.InvalidError{Code: "invalid_from", Msg: fmt.Sprintf("from %d: want 1 to %d", from, to)}
		}
		var err error
		proof, err = tlog.ProveTree(int64(to), int64(from), hashReader{tx, tenant})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("audit consistency proof %d→%d in %s: %w", from, to, tenant, err)
	}
	return proof, nil
}

// ProofHashes returns the stored hashes (index → hash) from which the
// inclusion proof of every leaf in leaves within the tree of size can be
// rebuilt with tlog.ProveRecord: a compact multiproof for an export, the
// hashes the rows share given once. The verifier rebuilds each proof from
// them and checks it with tlog.CheckRecord, so a wrong hash fails there.
func ProofHashes(store projections.Store, tenant string, size uint64, leaves []uint64) (map[int64]tlog.Hash, error) {
	out := map[int64]tlog.Hash{}
	err := store.View(Name, func(tx projections.Tx) error {
		if _, err := treeAt(tx, tenant, size); err != nil {
			return err
		}
		r := hashReader{tx, tenant}
		record := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
			hs, err := r.ReadHashes(indexes)
			for i, h := range hs {
				out[indexes[i]] = h
			}
			return hs, err
		})
		for _, leaf := range leaves {
			if leaf >= size {
				return &domain.InvalidError{Code: "invalid_seq", Msg: fmt.Sprintf("leaf %d is not in the tree of size %d", leaf, size)}
			}
			if _, err := tlog.ProveRecord(int64(size), int64(leaf), record); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit export proof in %s: %w", tenant, err)
	}
	return out, nil
}
