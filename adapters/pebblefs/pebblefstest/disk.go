// Package pebblefstest is for tests only: a file system whose writes fail
// on demand, as a full disk or an unwritable directory makes them fail,
// for the stores built on pebble and adapters/pebblefs.
package pebblefstest

import (
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/cockroachdb/pebble/vfs/errorfs"
)

// Disk is the real file system with every write failing with Errno while
// it is full. Pass FS and HasRoom to a store's options.
type Disk struct {
	FS    vfs.FS
	Errno syscall.Errno
	full  atomic.Bool
}

// NewDisk returns a disk whose writes fail with errno (ENOSPC for a full
// disk, EACCES for permission taken away) once Fill is called.
func NewDisk(errno syscall.Errno) *Disk {
	d := &Disk{Errno: errno}
	d.FS = errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op, _ string) error {
		if d.full.Load() && op.OpKind() == errorfs.OpKindWrite {
			return d.Errno
		}
		return nil
	}))
	return d
}

// Fill makes every write fail from now on.
func (d *Disk) Fill() { d.full.Store(true) }

// Free makes writes work again.
func (d *Disk) Free() { d.full.Store(false) }

// HasRoom reports whether writes work: a store's SpaceAvailable.
func (d *Disk) HasRoom() bool { return !d.full.Load() }

// CloseTwice calls close on a full disk, fails t unless it returns within
// 20 s, then calls it again and fails t unless the second call returns
// what the first did. It returns the first call's result.
func CloseTwice(t testing.TB, close func() error) error {
	t.Helper()
	closed := make(chan error, 1)
	go func() { closed <- close() }()
	var first error
	select {
	case first = <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close still waiting 20 s after it was called on a full disk")
	}
	if err := close(); err != first {
		t.Fatalf("second close: %v, want what the first said (%v)", err, first)
	}
	return first
}
