package datadir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestASecondHolderIsToldWhoHoldsTheDirectory(t *testing.T) {
	dir := t.TempDir()
	first, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to an open file, so a second Acquire in this
	// process is refused as another process's would be
	_, err = Acquire(dir)
	var inUse *InUseError
	if !errors.As(err, &inUse) || inUse.PID != os.Getpid() || inUse.Dir != dir {
		t.Fatalf("second Acquire: %v, want an InUseError naming pid %d", err, os.Getpid())
	}
	if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "in use by another recalld") {
		t.Fatalf("message %q", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	again, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Close: %v", err)
	}
	defer again.Close()
}

func TestALockFileWithoutAPidStillRefuses(t *testing.T) {
	dir := t.TempDir()
	first, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir)
	var inUse *InUseError
	if !errors.As(err, &inUse) || inUse.PID != 0 || strings.Contains(err.Error(), "pid") {
		t.Fatalf("Acquire: %v, want an InUseError without a pid", err)
	}
}

func TestADataDirectoryThatIsAFileIsAnError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Acquire(file)
	var inUse *InUseError
	if err == nil || errors.As(err, &inUse) {
		t.Fatalf("Acquire on a file: %v, want an error that is not InUseError", err)
	}
}
