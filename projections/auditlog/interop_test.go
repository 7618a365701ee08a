package auditlog

import (
	"encoding/binary"
	"encoding/hex"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/projections"
)

// The RFC 6962 test vectors published with Certificate Transparency's
// reference implementations (the eight leaves of its Merkle tree tests,
// the root of every size, and audit paths and consistency proofs between
// them). Our tree stores its hashes through the same code path entries
// take (appendLeaf, hashReader, ProveConsistency): if these match, any
// RFC 6962 tool verifies our roots and proofs.
var ctLeaves = []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}

var ctRoots = []string{
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

var ctInclusion = []struct {
	leaf, size int64
	path       []string
}{
	{0, 8, []string{"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
	{5, 8, []string{"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
}

var ctConsistency = []struct {
	from, to int64
	proof    []string
}{
	{1, 8, []string{"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
	{6, 8, []string{"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
	{2, 5, []string{"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
}

func hexHash(t *testing.T, s string) tlog.Hash {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		t.Fatalf("hash %q: %v", s, err)
	}
	var h tlog.Hash
	copy(h[:], b)
	return h
}

func hexHashes(t *testing.T, ss []string) []tlog.Hash {
	out := make([]tlog.Hash, len(ss))
	for i, s := range ss {
		out[i] = hexHash(t, s)
	}
	return out
}

func TestAuditTreeMatchesRFC6962TestVectors(t *testing.T) {
	rm, err := readmodel.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	const tenant = "ct/vectors"
	err = rm.Update(Name, func(tx projections.Tx) error {
		st := treeState{Born: true}
		if err := setState(tx, treeBaseKey(tenant), st.treeBase); err != nil {
			return err
		}
		for i, leaf := range ctLeaves {
			data, _ := hex.DecodeString(leaf)
			if err := appendLeaf(tx, tenant, &st, uint64(i+1), tlog.RecordHash(data)); err != nil {
				return err
			}
		}
		// no entries, so no head to take the size from: a migration's record
		return tx.Set(treeSizeKey(tenant), binary.BigEndian.AppendUint64(nil, st.Size))
	})
	if err != nil {
		t.Fatal(err)
	}
	for size := 1; size <= len(ctRoots); size++ {
		root, err := RootAt(rm, tenant, uint64(size))
		if err != nil || root != hexHash(t, ctRoots[size-1]) {
			t.Fatalf("root of size %d: %x %v, want %s", size, root[:], err, ctRoots[size-1])
		}
	}
	for _, c := range ctInclusion {
		var proof tlog.RecordProof
		err := rm.View(Name, func(tx projections.Tx) error {
			var err error
			proof, err = tlog.ProveRecord(c.size, c.leaf, hashReader{tx, tenant})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		want := hexHashes(t, c.path)
		if len(proof) != len(want) {
			t.Fatalf("leaf %d in %d: %d hashes, want %d", c.leaf, c.size, len(proof), len(want))
		}
		for i := range want {
			if proof[i] != want[i] {
				t.Fatalf("leaf %d in %d: hash %d is %x, want %x", c.leaf, c.size, i, proof[i][:], want[i][:])
			}
		}
		data, _ := hex.DecodeString(ctLeaves[c.leaf])
		if err := tlog.CheckRecord(want, c.size, hexHash(t, ctRoots[c.size-1]), c.leaf, tlog.RecordHash(data)); err != nil {
			t.Fatalf("the published audit path of leaf %d does not check: %v", c.leaf, err)
		}
	}
	for _, c := range ctConsistency {
		proof, err := ProveConsistency(rm, tenant, uint64(c.from), uint64(c.to))
		if err != nil {
			t.Fatal(err)
		}
		want := hexHashes(t, c.proof)
		if len(proof) != len(want) {
			t.Fatalf("consistency %d→%d: %d hashes, want %d", c.from, c.to, len(proof), len(want))
		}
		for i := range want {
			if proof[i] != want[i] {
				t.Fatalf("consistency %d→%d: hash %d is %x, want %x", c.from, c.to, i, proof[i][:], want[i][:])
			}
		}
		if err := tlog.CheckTree(want, c.to, hexHash(t, ctRoots[c.to-1]), c.from, hexHash(t, ctRoots[c.from-1])); err != nil {
			t.Fatalf("the published consistency proof %d→%d does not check: %v", c.from, c.to, err)
		}
	}
}
