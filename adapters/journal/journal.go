// Package journal is an append-only file of JSON lines that the processes
// of one data directory (recalld, recallctl) share: each change is one
// line appended and fsynced under an exclusive lock, and each reader reads
// only what was appended since it last looked. A change therefore costs
// the same however many came before it, and a change made by one process
// is seen by the others on their next look (a stat).
//
// It is what the tenant registry keeps its changes in; it knows nothing of
// what the lines say.
package journal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// Journal is one journal file.
type Journal struct {
	path string

	mu     sync.Mutex
	stamp  stamp
	offset int64 // how much of the file has been read
	read   bool  // whether it was ever read
}

type stamp struct {
	ino  uint64
	size int64
}

// New returns the journal at path; the file is made by the first Append.
func New(path string) *Journal { return &Journal{path: path} }

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Read calls apply with each complete line appended since the last Read,
// in order, without its newline. When the file was replaced, or is
// shorter than what was read, reset is called first and every line is
// read again. A last line without its newline is being written, or was
// torn by a crash (the next Append cuts it off): it is read next time.
// The line is valid only during apply. An error of apply stops the read;
// the line is read again next time.
func (j *Journal) Read(reset func(), apply func(line []byte) error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.readLocked(reset, apply)
}

func (j *Journal) readLocked(reset func(), apply func(line []byte) error) error {
	st, err := os.Stat(j.path)
	var now stamp
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("journal %s: %w", j.path, err)
	default:
		now.size = st.Size()
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			now.ino = sys.Ino
		}
	}
	if j.read && now == j.stamp {
		return nil
	}
	if !j.read || now.ino != j.stamp.ino || now.size < j.offset {
		reset()
		j.offset, j.read = 0, true
	}
	j.stamp = stamp{ino: now.ino, size: j.offset}
	if now.size == j.offset {
		return nil
	}
	f, err := os.Open(j.path)
	if err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	defer f.Close()
	if _, err := f.Seek(j.offset, io.SeekStart); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// a line longer than the buffer: gather it whole
			rest, err2 := br.ReadBytes('\n')
			line, err = append(append([]byte{}, line...), rest...), err2
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("journal %s: %w", j.path, err)
		}
		if err := apply(line[:len(line)-1]); err != nil {
			return fmt.Errorf("journal %s: line after byte %d: %w", j.path, j.offset, err)
		}
		j.offset += int64(len(line))
	}
	// the stamp is of what was read: a size read past is read again later
	j.stamp = stamp{ino: now.ino, size: j.offset}
	return nil
}

// Append appends lines under the journal's exclusive lock (an flock of
// PATH.lock, which every process takes): it cuts off a torn last line,
// reads what others appended (reset and apply as for Read), asks decide
// — which sees the state as of every line written — for the lines to
// write (none: nothing is written), writes them at the end, fsyncs, and
// reads them back through apply. Once it returns nil they are durable.
func (j *Journal) Append(reset func(), apply func(line []byte) error, decide func() ([][]byte, error)) error {
	lock, err := os.OpenFile(j.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("lock journal %s: %w", j.path, err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock journal %s: %w", j.path, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	_, statErr := os.Stat(j.path)
	fresh := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(j.path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	defer f.Close()
	if err := cutTornTail(f); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.readLocked(reset, apply); err != nil {
		return err
	}
	lines, err := decide()
	if err != nil || len(lines) == 0 {
		return err
	}
	var buf bytes.Buffer
	for _, l := range lines {
		if bytes.IndexByte(l, '\n') >= 0 {
			return fmt.Errorf("journal %s: a line holds a newline", j.path)
		}
		buf.Write(l)
		buf.WriteByte('\n')
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("journal %s: write: %w", j.path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("journal %s: sync: %w", j.path, err)
	}
	if fresh {
		// the file is new: its name must be durable too
		if err := syncDir(filepath.Dir(j.path)); err != nil {
			return fmt.Errorf("journal %s: %w", j.path, err)
		}
	}
	return j.readLocked(reset, apply)
}

// cutTornTail removes a last line without its newline: a write a crash
// cut short, never acknowledged. Only a writer holding the lock does it.
func cutTornTail(f *os.File) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	size := st.Size()
	const chunk = 4096
	for end := size; end > 0; {
		start := max(0, end-chunk)
		b := make([]byte, end-start)
		if _, err := f.ReadAt(b, start); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			if keep := start + int64(i) + 1; keep != size {
				return truncate(f, keep)
			}
			return nil
		}
		end = start
	}
	return truncate(f, 0)
}

func truncate(f *os.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("cut a torn line: %w", err)
	}
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// WriteAtomic replaces path with data: a temporary file beside it,
// fsynced, renamed over it, and the directory fsynced, so a crash leaves
// the old file or the new one. A journal's owner uses it to write a
// journal from scratch (an import or a compaction).
func WriteAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	for _, step := range []func() error{
		func() error { _, err := tmp.Write(data); return err },
		func() error { return tmp.Chmod(0o600) },
		tmp.Sync,
		tmp.Close,
		func() error { return os.Rename(tmp.Name(), path) },
	} {
		if err := step(); err != nil {
			tmp.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
