// Package pebblefs makes a pebble database wait out a full disk, or a data
// directory that became unwritable, instead of dying: pebble treats a
// failed log write as fatal, so its file system is wrapped to hold the
// failed write until writing works again, then retry it.
package pebblefs

import (
	"log/slog"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/vfs"
)

// MinFreeBytes is the free space after which writes resume.
const MinFreeBytes = 64 << 20

// Waiting wraps fs so that a write failing for lack of space, quota or
// permission waits until
// available reports room (nil: dir's file system has MinFreeBytes free) or
// stop is closed, then is retried once. onFull, if not nil, is told when
// the disk fills and when it has room again.
func Waiting(fs vfs.FS, dir, name string, available func() bool, onFull func(full bool), stop <-chan struct{}) vfs.FS {
	if fs == nil {
		fs = vfs.Default
	}
	if available == nil {
		available = func() bool { return FreeBytes(dir) >= MinFreeBytes && writable(dir) }
	}
	return vfs.OnDiskFull(errnoFS{fs}, func() {
		if onFull != nil {
			onFull(true)
			defer onFull(false)
		}
		slog.Error(name + ": the disk is full or the data directory is not writable; writes wait until it is")
		for !available() {
			select {
			case <-stop:
				return // shutting down: let the write fail rather than hang
			case <-time.After(500 * time.Millisecond):
			}
		}
		slog.Info(name + ": disk space is back; writes resume")
	})
}

// FreeBytes is the space available to unprivileged users on dir's file
// system; 0 if it cannot be read.
func FreeBytes(dir string) uint64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return st.Bavail * uint64(st.Bsize)
}
