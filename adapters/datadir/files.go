package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// The small files of a data directory that more than one process
// changes (the token registry, the operators' journal) are changed under
// an exclusive lock on a file beside them, and replaced whole, never
// rewritten in place: a reader sees the old file or the new one, and a
// crash leaves one of them.

// LockFile takes an exclusive flock on path (created, mode 0600, if it is
// not there), waiting while another process or open file holds it, and
// returns its release. The kernel releases it too when the process dies.
func LockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// WriteFile replaces path with data, mode perm: a temporary file beside
// it is written, fsynced and renamed over it, then the directory is
// fsynced, so that once WriteFile returns the new file is on disk, and a
// crash before leaves the old one.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a failure; renamed away otherwise
	for _, step := range []func() error{
		func() error { _, err := tmp.Write(data); return err },
		func() error { return tmp.Chmod(perm) },
		tmp.Sync,
		tmp.Close,
		func() error { return os.Rename(tmp.Name(), path) },
	} {
		if err := step(); err != nil {
			tmp.Close()
			return fmt.Errorf("replace %s: %w", path, err)
		}
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, so that a rename into it survives a crash
// of the machine, not only of the process.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Stamp tells which file a path names and how much of it there is, so a
// process that read it notices when another one appended to it, changed
// it or replaced it (another inode) — a stat per look, no watcher. A
// missing file's stamp is the zero Stamp.
type Stamp struct {
	Ino     uint64
	Size    int64
	ModTime time.Time
}

// StampOf stats path.
func StampOf(path string) (Stamp, error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return Stamp{}, nil
	}
	if err != nil {
		return Stamp{}, fmt.Errorf("stat %s: %w", path, err)
	}
	s := Stamp{Size: st.Size(), ModTime: st.ModTime()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		s.Ino = sys.Ino
	}
	return s, nil
}
