package main

import (
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// openTerminal opens a pseudo-terminal: progress is shown on a terminal
// only, so a test that reads it needs one. Writes to tty are read from
// the returned reader once tty is closed.
func openTerminal(t *testing.T) (tty *os.File, output func() string) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminal on this machine: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptmx.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlock pty: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptmx.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("pty number: %v", e)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(ptmx) // ends with EIO once the terminal side closes
		read <- string(b)
	}()
	return tty, func() string {
		tty.Close()
		return <-read
	}
}

// The progress a long command shows on a terminal names what it does: a
// rebuild says "rebuilt" (it once said "exported", from the export's
// printer), an export says "exported".
func TestProgressSaysWhatTheCommandDoes(t *testing.T) {
	dir := t.TempDir()
	liveReadModels(t, dir)
	for _, tc := range []struct {
		args      []string
		want, not string
	}{
		{[]string{"projections", "rebuild", "audit_log"}, "rebuilt audit_log up to position 40 of 40", "exported"},
		{[]string{"export", "events"}, "exported up to position 40 of 40", "rebuilt"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			tty, output := openTerminal(t)
			if err := run(context.Background(), append([]string{"--data", dir}, tc.args...), func(string) string { return "" }, io.Discard, tty); err != nil {
				t.Fatal(err)
			}
			got := output()
			if !strings.Contains(got, tc.want) || strings.Contains(got, tc.not) {
				t.Fatalf("progress on the terminal: %q, want %q", got, tc.want)
			}
		})
	}
}
