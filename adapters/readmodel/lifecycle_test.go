package readmodel_test

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/recallledger/recall/adapters/pebblefs/pebblefstest"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/projections"
)

// TestCloseOnAFullDiskDoesNotHang: a shutdown while the disk is full ends
// the write that waits for space instead of waiting with it, and a second
// Close returns what the first did.
func TestCloseOnAFullDiskDoesNotHang(t *testing.T) {
	dir := t.TempDir()
	disk := pebblefstest.NewDisk(syscall.ENOSPC)
	rm, err := readmodel.OpenWith(dir, readmodel.Options{FS: disk.FS, SpaceAvailable: disk.HasRoom})
	if err != nil {
		t.Fatal(err)
	}
	update := func(i int) error {
		return rm.Update("p", func(tx projections.Tx) error { return tx.Set(fmt.Appendf(nil, "k%d", i), []byte("v")) })
	}
	if err := update(0); err != nil {
		t.Fatal(err)
	}
	disk.Fill() // and it stays full
	// the commit does not wait for its log write (read models commit
	// without fsync), so the write that waits for space is pebble's own
	if err := update(1); err != nil {
		t.Logf("update on a full disk: %v", err)
	}
	pebblefstest.CloseTwice(t, rm.Close)
	disk.Free()
	again, err := readmodel.Open(dir) // what was lost is re-applied from the log
	if err != nil {
		t.Fatalf("reopen after a close on a full disk: %v", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}
