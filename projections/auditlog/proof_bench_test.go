package auditlog

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/projections"
)

// proofBenchEntries is the tree size of BenchmarkProofs: 1 million by
// default (make bench), RECALL_BENCH_PROOF_ENTRIES=10000000 for the
// target's 10 million (make bench-large).
func proofBenchEntries(b *testing.B) int64 {
	if v := os.Getenv("RECALL_BENCH_PROOF_ENTRIES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 2 {
			b.Fatalf("RECALL_BENCH_PROOF_ENTRIES=%q", v)
		}
		return n
	}
	return 1_000_000
}

// BenchmarkProofs measures proof generation over a large tree on pebble:
// an inclusion proof of a random entry (its entry read, its audit path
// from the stored hashes) and a consistency proof between random sizes,
// reporting p50 and p99 latencies. The tree's stored hashes are written
// directly (tlog.StoredHashes over synthetic record hashes), as appending
// millions of entries through the projection would take an hour.
func BenchmarkProofs(b *testing.B) {
	n := proofBenchEntries(b)
	const tenant = "bench/proofs"
	rm, err := readmodel.Open(filepath.Join(b.TempDir(), "rm"))
	if err != nil {
		b.Fatal(err)
	}
	defer rm.Close()
	built := time.Now()
	writeSyntheticTree(b, rm, tenant, n)
	// entries for the seqs the inclusion proofs ask for
	rng := rand.New(rand.NewPCG(1, 2))
	seqs := make([]uint64, 20_000)
	err = rm.Update(Name, func(tx projections.Tx) error {
		for i := range seqs {
			seqs[i] = 1 + rng.Uint64N(uint64(n))
			if err := projections.SetJSON(tx, entryKey(tenant, seqs[i]), Entry{Seq: seqs[i], Action: ActionSend}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d entries' stored hashes written in %s", n, time.Since(built).Round(time.Second))
	timed := func(name string, prove func(i int) error) {
		b.Run(name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := range b.N {
				t0 := time.Now()
				err := prove(i)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
			}
			reportLatency(b, lat)
		})
	}
	timed("inclusion", func(i int) error {
		inc, err := ProveInclusion(rm, tenant, seqs[i%len(seqs)], uint64(n))
		if err == nil && len(inc.Proof) == 0 {
			err = errors.New("an empty inclusion proof")
		}
		return err
	})
	timed("consistency", func(int) error {
		_, err := ProveConsistency(rm, tenant, 1+rng.Uint64N(uint64(n-1)), uint64(n))
		return err
	})
	timed("root", func(int) error {
		_, err := Tree(rm, tenant)
		return err
	})
}

// writeSyntheticTree writes the stored hashes of an n-leaf tree over
// synthetic record hashes (leaf i's is i), a batch of leaves a
// transaction: each batch's hashes are computed against the batch's own
// writes, read through to the store for older ones.
func writeSyntheticTree(b *testing.B, rm *readmodel.Store, tenant string, n int64) {
	const batch = 200_000
	for lo := int64(0); lo < n; lo += batch {
		err := rm.Update(Name, func(tx projections.Tx) error {
			r := hashReader{tx, tenant}
			if lo == 0 {
				if err := setState(tx, treeBaseKey(tenant), treeBase{}); err != nil {
					return err
				}
			}
			for i := lo; i < min(lo+batch, n); i++ {
				var rh tlog.Hash
				binary.BigEndian.PutUint64(rh[:], uint64(i))
				hs, err := tlog.StoredHashesForRecordHash(i, rh, r)
				if err != nil {
					return err
				}
				first := tlog.StoredHashIndex(0, i)
				for j, h := range hs {
					if err := tx.Set(storedHashKey(tenant, first+int64(j)), h[:]); err != nil {
						return err
					}
				}
			}
			return tx.Set(treeSizeKey(tenant), binary.BigEndian.AppendUint64(nil, uint64(min(lo+batch, n))))
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / 1e6 }
	b.ReportMetric(q(0.5), "p50_ms")
	b.ReportMetric(q(0.99), "p99_ms")
	b.ReportMetric(float64(len(lat)), "proofs")
}
