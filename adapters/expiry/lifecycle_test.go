package expiry

import (
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/cockroachdb/pebble/vfs/errorfs"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/domain/ledger"
)

// TestCloseOnAFullDiskDoesNotHang: a shutdown while the disk under the
// expiry index is full ends the write that waits for space, and a second
// Close returns what the first did.
func TestCloseOnAFullDiskDoesNotHang(t *testing.T) {
	dir := t.TempDir()
	clock := clocktest.New(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	store, err := embedded.Open(filepath.Join(dir, "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	l := ledger.New(store, clock)
	var full atomic.Bool
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op, path string) error {
		if full.Load() && op.OpKind() == errorfs.OpKindWrite {
			return syscall.ENOSPC
		}
		return nil
	}))
	s, err := OpenWith(filepath.Join(dir, "expiry"), l, clock, slog.New(slog.DiscardHandler),
		Options{FS: fs, SpaceAvailable: func() bool { return !full.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	tn, _ := domain.ParseTenant("acme/chat")
	cmd, _ := domain.NewSendCommand("alice", "bob", "chat", "txt", "hi", "ios", "")
	if _, err := l.Send(t.Context(), tn, cmd); err != nil {
		t.Fatal(err)
	}
	evs, err := store.ReadAll(t.Context(), 0, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	full.Store(true) // and it stays full
	// the index commits without waiting for its log write, so the write
	// that waits for space is pebble's own
	for _, e := range evs {
		if err := s.Apply(e); err != nil {
			t.Logf("apply on a full disk: %v", err)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	var first error
	select {
	case first = <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close still waiting 20 s after it was called on a full disk")
	}
	if err := s.Close(); err != first {
		t.Fatalf("second close: %v, want what the first said (%v)", err, first)
	}
}
