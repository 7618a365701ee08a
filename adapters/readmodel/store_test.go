package readmodel_test

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/projections"
)

// TestUpdatesOfOneNamespaceAreSerial: writers of one projection's namespace
// (its runner, the audit retention purge, a rebuild) each read state and
// write what follows from it; two transactions of one namespace must never
// interleave, or one's writes are lost under the other's. Many writers
// increment one counter, each yielding between its read and its write;
// every increment must count.
func TestUpdatesOfOneNamespaceAreSerial(t *testing.T) {
	rm, err := readmodel.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	const writers, each = 8, 100
	key := []byte("counter")
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				err := rm.Update("ns", func(tx projections.Tx) error {
					v, err := tx.Get(key)
					if err != nil {
						return err
					}
					n := uint64(0)
					if v != nil {
						n = binary.BigEndian.Uint64(v)
					}
					runtime.Gosched() // let another writer run between the read and the write
					return tx.Set(key, binary.BigEndian.AppendUint64(nil, n+1))
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	// another namespace's writer is not held up by them, and they not by it
	wg.Go(func() {
		for i := range each {
			if err := rm.Update("other", func(tx projections.Tx) error { return tx.Set(key, []byte(fmt.Sprint(i))) }); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	var got uint64
	if err := rm.View("ns", func(tx projections.Tx) error {
		v, err := tx.Get(key)
		if err == nil && v != nil {
			got = binary.BigEndian.Uint64(v)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got != writers*each {
		t.Fatalf("counter %d after %d increments: %d updates were lost to interleaved transactions", got, writers*each, writers*each-got)
	}
}
