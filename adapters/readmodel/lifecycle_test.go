package readmodel_test

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/cockroachdb/pebble/vfs/errorfs"

	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/projections"
)

// TestCloseOnAFullDiskDoesNotHang: a shutdown while the disk is full ends
// the write that waits for space instead of waiting with it, and a second
// Close returns what the first did.
func TestCloseOnAFullDiskDoesNotHang(t *testing.T) {
	dir := t.TempDir()
	var full atomic.Bool
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op, path string) error {
		if full.Load() && op.OpKind() == errorfs.OpKindWrite {
			return syscall.ENOSPC
		}
		return nil
	}))
	rm, err := readmodel.OpenWith(dir, readmodel.Options{FS: fs, SpaceAvailable: func() bool { return !full.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	update := func(i int) error {
		return rm.Update("p", func(tx projections.Tx) error { return tx.Set(fmt.Appendf(nil, "k%d", i), []byte("v")) })
	}
	if err := update(0); err != nil {
		t.Fatal(err)
	}
	full.Store(true) // and it stays full
	// the commit does not wait for its log write (read models commit
	// without fsync), so the write that waits for space is pebble's own
	if err := update(1); err != nil {
		t.Logf("update on a full disk: %v", err)
	}
	closed := make(chan error, 1)
	go func() { closed <- rm.Close() }()
	var first error
	select {
	case first = <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close still waiting 20 s after it was called on a full disk")
	}
	if err := rm.Close(); err != first {
		t.Fatalf("second close: %v, want what the first said (%v)", err, first)
	}
	full.Store(false)
	again, err := readmodel.Open(dir) // what was lost is re-applied from the log
	if err != nil {
		t.Fatalf("reopen after a close on a full disk: %v", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}
