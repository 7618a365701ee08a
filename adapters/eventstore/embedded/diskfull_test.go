package embedded

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/eventstore/eventstoretest"
	"github.com/recallledger/recall/adapters/pebblefs/pebblefstest"
	"github.com/recallledger/recall/domain"
)

// onDisk opens a store in dir on a disk whose writes fail with errno once
// it is filled; appendOne appends the i-th test event to a stream of its own.
func onDisk(t *testing.T, dir string, errno syscall.Errno) (s *Store, disk *pebblefstest.Disk, appendOne func(i int) error) {
	t.Helper()
	disk = pebblefstest.NewDisk(errno)
	s, err := OpenWith(dir, Options{FS: disk.FS, SpaceAvailable: disk.HasRoom})
	if err != nil {
		t.Fatal(err)
	}
	return s, disk, func(i int) error {
		_, err := s.Append(context.Background(), fmt.Sprint("x-a/a.", i), domain.NoStream, []domain.Event{eventstoretest.Event(t, "a/a", i)})
		return err
	}
}

// waitNoticed returns once the store has noticed that writes fail.
func waitNoticed(t *testing.T, s *Store) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !s.diskFull.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the full disk was not noticed")
		}
	}
}

// TestFullDiskRefusesWritesAndRecovers fills the disk (every write fails
// with ENOSPC) in the middle of appends: the write in flight waits, new
// appends are refused at once with ErrUnavailable, and when space returns
// the waiting append completes and everything acknowledged is readable,
// also after a reopen.
func TestFullDiskRefusesWritesAndRecovers(t *testing.T) {
	dir := t.TempDir()
	s, disk, appendOne := onDisk(t, dir, syscall.ENOSPC)
	ctx := context.Background()
	for i := range 10 {
		if err := appendOne(i); err != nil {
			t.Fatal(err)
		}
	}
	disk.Fill()
	inFlight := make(chan error, 1)
	go func() { inFlight <- appendOne(10) }()
	waitNoticed(t, s)
	if err := appendOne(11); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("append on a full disk: %v, want ErrUnavailable", err)
	}
	select {
	case err := <-inFlight:
		t.Fatalf("the append in flight returned while the disk was full: %v", err)
	default:
	}
	disk.Free() // space is back
	if err := <-inFlight; err != nil {
		t.Fatalf("the append in flight failed after space came back: %v", err)
	}
	if err := appendOne(12); err != nil {
		t.Fatalf("append after recovery: %v", err)
	}
	if s.Head() != 12 {
		t.Fatalf("head %d, want 12 (10 before, the one in flight, one after)", s.Head())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	evs, err := s2.ReadAll(ctx, 0, "", 100)
	if err != nil || len(evs) != 12 {
		t.Fatalf("after reopen %d events: %v", len(evs), err)
	}
}

// TestUnwritableDirectoryAtRunTimeRefusesWritesAndRecovers: permission
// taken away while running (EACCES on writes) is handled like a full disk.
func TestUnwritableDirectoryAtRunTimeRefusesWritesAndRecovers(t *testing.T) {
	s, disk, appendOne := onDisk(t, t.TempDir(), syscall.EACCES)
	defer s.Close()
	if err := appendOne(0); err != nil {
		t.Fatal(err)
	}
	disk.Fill() // permission taken away
	inFlight := make(chan error, 1)
	go func() { inFlight <- appendOne(1) }()
	waitNoticed(t, s)
	if err := appendOne(2); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("append while unwritable: %v", err)
	}
	disk.Free()
	if err := <-inFlight; err != nil {
		t.Fatalf("append in flight after recovery: %v", err)
	}
	if err := appendOne(3); err != nil || s.Head() != 3 {
		t.Fatalf("after recovery: %v, head %d", err, s.Head())
	}
}

// TestCloseOnAFullDiskEndsTheWaitingWrite: a shutdown while a write waits
// for space does not hang. Close ends the wait, the append in flight is
// refused (never acknowledged), a second Close says the same, and the
// store reopens with everything acknowledged before.
func TestCloseOnAFullDiskEndsTheWaitingWrite(t *testing.T) {
	dir := t.TempDir()
	s, disk, appendOne := onDisk(t, dir, syscall.ENOSPC)
	for i := range 3 {
		if err := appendOne(i); err != nil {
			t.Fatal(err)
		}
	}
	disk.Fill() // and it stays full
	inFlight := make(chan error, 1)
	go func() { inFlight <- appendOne(3) }()
	waitNoticed(t, s)
	pebblefstest.CloseTwice(t, s.Close)
	if err := <-inFlight; err == nil {
		t.Fatal("the append waiting for space was acknowledged although it never reached the disk")
	}
	disk.Free()
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	evs, err := s2.ReadAll(context.Background(), 0, "", 100)
	if err != nil || len(evs) < 3 {
		t.Fatalf("after reopen %d events (3 acknowledged): %v", len(evs), err)
	}
}
