// Package datadir keeps a data directory to one process at a time and
// lets a second one say who holds it.
//
// The stores in a data directory lock their own files, but their refusal
// ("resource temporarily unavailable") does not tell a newcomer that a
// recalld is already running there. Acquire takes an exclusive flock on
// DIR/recalld.lock and writes the holder's pid into it; a second Acquire
// fails with an InUseError naming that pid. The kernel releases a flock
// when its process dies, so a crash leaves no stale lock behind.
//
// The small files in a data directory that recalld and recallctl both
// change are locked and replaced whole the same way (files.go: LockFile,
// WriteFile).
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// FileName is the lock file in the data directory.
const FileName = "recalld.lock"

// InUseError is returned when another process holds the data directory.
type InUseError struct {
	Dir string
	PID int // 0 when the holder has not written it yet
}

func (e *InUseError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("data directory %s is in use by another recalld", e.Dir)
	}
	return fmt.Sprintf("data directory %s is in use by another recalld (pid %d)", e.Dir, e.PID)
}

// Lock is a held data directory.
type Lock struct {
	f    *os.File
	once sync.Once
	err  error
}

// Acquire takes dir for this process, or returns an *InUseError when
// another process (or another Lock in this one) holds it.
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &InUseError{Dir: dir, PID: holder(path)}
		}
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	if _, err := f.WriteAt(pid, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	return &Lock{f: f}, nil
}

// holder reads the pid the holder wrote; 0 if it cannot be read.
func holder(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// Close releases the directory; closing again does nothing. The pid stays
// in the file: it is only read while the lock is held.
func (l *Lock) Close() error {
	l.once.Do(func() { l.err = l.f.Close() })
	return l.err
}
