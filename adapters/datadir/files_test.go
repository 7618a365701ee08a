package datadir

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

func TestWriteFileReplacesTheFileWholeAndLeavesNothingBeside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "registry.json")
	for _, content := range []string{"first, and longer than the second", "second"} {
		if err := WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil || string(b) != content {
			t.Fatalf("after writing %q the file holds %q (%v)", content, b, err)
		}
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v (%v), want 0600", st.Mode(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("the directory holds %v (%v), want the file alone", entries, err)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x"), nil, 0o600); err == nil {
		t.Fatal("a file in a missing directory was written")
	}
}

// Writers that each read, change and replace a file under LockFile lose
// no change: every one of them counts.
func TestChangesUnderLockFileAreNeverLost(t *testing.T) {
	dir := t.TempDir()
	path, lock := filepath.Join(dir, "count"), filepath.Join(dir, "count.lock")
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for range each {
				unlock, err := LockFile(lock)
				if err != nil {
					errs <- err
					return
				}
				b, _ := os.ReadFile(path)
				n, _ := strconv.Atoi(string(b))
				err = WriteFile(path, []byte(strconv.Itoa(n+1)), 0o600)
				unlock()
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != strconv.Itoa(writers*each) {
		t.Fatalf("the count is %q (%v), want %d", b, err, writers*each)
	}
}
