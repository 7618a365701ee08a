package expiry

import (
	"log/slog"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/pebblefs/pebblefstest"
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
	disk := pebblefstest.NewDisk(syscall.ENOSPC)
	s, err := OpenWith(filepath.Join(dir, "expiry"), l, clock, slog.New(slog.DiscardHandler), Options{FS: disk.FS, SpaceAvailable: disk.HasRoom})
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
	disk.Fill() // and it stays full
	// the index commits without waiting for its log write, so the write
	// that waits for space is pebble's own
	for _, e := range evs {
		if err := s.Apply(e); err != nil {
			t.Logf("apply on a full disk: %v", err)
		}
	}
	pebblefstest.CloseTwice(t, s.Close)
}
