package embedded

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/cockroachdb/pebble/vfs/errorfs"

	"github.com/recallledger/recall/adapters/eventstore/eventstoretest"
	"github.com/recallledger/recall/domain"
)

// TestFullDiskRefusesWritesAndRecovers fills the disk (every write fails
// with ENOSPC) in the middle of appends: the write in flight waits, new
// appends are refused at once with ErrUnavailable, and when space returns
// the waiting append completes and everything acknowledged is readable,
// also after a reopen.
func TestFullDiskRefusesWritesAndRecovers(t *testing.T) {
	dir := t.TempDir()
	var full atomic.Bool
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op, path string) error {
		if full.Load() && op.OpKind() == errorfs.OpKindWrite {
			return syscall.ENOSPC
		}
		return nil
	}))
	s, err := OpenWith(dir, Options{FS: fs, SpaceAvailable: func() bool { return !full.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	appendOne := func(i int) error {
		_, err := s.Append(ctx, fmt.Sprint("x-a/a.", i), domain.NoStream, []domain.Event{eventstoretest.Event(t, "a/a", i)})
		return err
	}
	for i := range 10 {
		if err := appendOne(i); err != nil {
			t.Fatal(err)
		}
	}
	full.Store(true)
	inFlight := make(chan error, 1)
	go func() { inFlight <- appendOne(10) }()
	deadline := time.Now().Add(10 * time.Second)
	for !s.diskFull.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the full disk was not noticed")
		}
		time.Sleep(time.Millisecond)
	}
	if err := appendOne(11); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("append on a full disk: %v, want ErrUnavailable", err)
	}
	select {
	case err := <-inFlight:
		t.Fatalf("the append in flight returned while the disk was full: %v", err)
	default:
	}
	full.Store(false) // space is back
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
	dir := t.TempDir()
	var denied atomic.Bool
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op, path string) error {
		if denied.Load() && op.OpKind() == errorfs.OpKindWrite {
			return syscall.EACCES
		}
		return nil
	}))
	s, err := OpenWith(dir, Options{FS: fs, SpaceAvailable: func() bool { return !denied.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	appendOne := func(i int) error {
		_, err := s.Append(ctx, fmt.Sprint("x-a/a.", i), domain.NoStream, []domain.Event{eventstoretest.Event(t, "a/a", i)})
		return err
	}
	if err := appendOne(0); err != nil {
		t.Fatal(err)
	}
	denied.Store(true)
	inFlight := make(chan error, 1)
	go func() { inFlight <- appendOne(1) }()
	for deadline := time.Now().Add(10 * time.Second); !s.diskFull.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the unwritable directory was not noticed")
		}
	}
	if err := appendOne(2); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("append while unwritable: %v", err)
	}
	denied.Store(false)
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
	var full atomic.Bool
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op, path string) error {
		if full.Load() && op.OpKind() == errorfs.OpKindWrite {
			return syscall.ENOSPC
		}
		return nil
	}))
	s, err := OpenWith(dir, Options{FS: fs, SpaceAvailable: func() bool { return !full.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	appendOne := func(i int) error {
		_, err := s.Append(ctx, fmt.Sprint("x-a/a.", i), domain.NoStream, []domain.Event{eventstoretest.Event(t, "a/a", i)})
		return err
	}
	for i := range 3 {
		if err := appendOne(i); err != nil {
			t.Fatal(err)
		}
	}
	full.Store(true) // and it stays full
	inFlight := make(chan error, 1)
	go func() { inFlight <- appendOne(3) }()
	for deadline := time.Now().Add(10 * time.Second); !s.diskFull.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the full disk was not noticed")
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
	if err := <-inFlight; err == nil {
		t.Fatal("the append waiting for space was acknowledged although it never reached the disk")
	}
	if err := s.Close(); !errors.Is(err, first) {
		t.Fatalf("second close: %v, want what the first said (%v)", err, first)
	}
	full.Store(false)
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	evs, err := s2.ReadAll(ctx, 0, "", 100)
	if err != nil || len(evs) < 3 {
		t.Fatalf("after reopen %d events (3 acknowledged): %v", len(evs), err)
	}
}
