package pebblefs

import (
	"errors"
	"os"
	"syscall"

	"github.com/cockroachdb/pebble/vfs"
)

// cannotWrite lists the errors that mean "this file system takes no writes
// right now" — out of space or quota, read-only, permission taken away —
// as opposed to a failing disk. They are reported to pebble as ENOSPC so
// that the write waits for the condition to clear instead of crashing the
// process.
var cannotWrite = []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EACCES, syscall.EPERM}

func mapErr(err error) error {
	if err == nil {
		return nil
	}
	for _, e := range cannotWrite {
		if errors.Is(err, e) {
			return &os.PathError{Op: "write", Path: "", Err: syscall.ENOSPC}
		}
	}
	return err
}

// errnoFS maps cannotWrite errors of write operations to ENOSPC.
type errnoFS struct{ vfs.FS }

func (fs errnoFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	return wrap(f), mapErr(err)
}

func (fs errnoFS) OpenReadWrite(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, opts...)
	return wrap(f), mapErr(err)
}

func (fs errnoFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname)
	return wrap(f), mapErr(err)
}

func (fs errnoFS) Link(oldname, newname string) error { return mapErr(fs.FS.Link(oldname, newname)) }
func (fs errnoFS) Remove(name string) error           { return mapErr(fs.FS.Remove(name)) }
func (fs errnoFS) RemoveAll(name string) error        { return mapErr(fs.FS.RemoveAll(name)) }
func (fs errnoFS) Rename(oldname, newname string) error {
	return mapErr(fs.FS.Rename(oldname, newname))
}
func (fs errnoFS) MkdirAll(dir string, perm os.FileMode) error {
	return mapErr(fs.FS.MkdirAll(dir, perm))
}

func wrap(f vfs.File) vfs.File {
	if f == nil {
		return nil
	}
	return errnoFile{f}
}

type errnoFile struct{ vfs.File }

func (f errnoFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	return n, mapErr(err)
}

func (f errnoFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	return n, mapErr(err)
}

func (f errnoFile) Sync() error     { return mapErr(f.File.Sync()) }
func (f errnoFile) SyncData() error { return mapErr(f.File.SyncData()) }
func (f errnoFile) SyncTo(length int64) (bool, error) {
	full, err := f.File.SyncTo(length)
	return full, mapErr(err)
}
func (f errnoFile) Preallocate(off, length int64) error {
	return mapErr(f.File.Preallocate(off, length))
}

// writable reports whether a file can be created and removed in dir.
func writable(dir string) bool {
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return false
	}
	name := f.Name()
	f.Close()
	return os.Remove(name) == nil
}
