// Package progress shows how far a long command (a rebuild, an export, a
// benchmark) got, on one line of a terminal that it rewrites in place. On
// anything else (a pipe, a file, a test's buffer) it writes nothing, so
// output meant for scripts stays clean.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// every is how often the line is rewritten at most.
const every = 200 * time.Millisecond

// Line is the progress line of one command. Its methods may be called
// from many goroutines.
type Line struct {
	w   io.Writer
	tty bool

	mu    sync.Mutex
	last  time.Time
	dirty bool // the line shows something that Clear or Done has not ended
}

// New returns the progress line on w, which shows anything only when w is
// a terminal.
func New(w io.Writer) *Line {
	l := &Line{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			l.tty = true
		}
	}
	return l
}

// Show replaces the line with the formatted text, unless it was replaced
// less than 200 ms ago.
func (l *Line) Show(format string, args ...any) {
	if !l.tty {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.last) < every {
		return
	}
	l.last, l.dirty = time.Now(), true
	fmt.Fprintf(l.w, "\r\033[K"+format, args...)
}

// Clear erases the line, so what is printed next starts on a clean one.
func (l *Line) Clear() { l.end("\r\033[K") }

// Done ends the line, keeping its last text in view.
func (l *Line) Done() { l.end("\n") }

func (l *Line) end(s string) {
	if !l.tty {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dirty {
		fmt.Fprint(l.w, s)
		l.dirty = false
	}
}

// Positions shows how far a command that walks the log got: "rebuilt
// audit_log up to position 40 of 80 (50%)", or without the head when it
// is not known (0).
func (l *Line) Positions(done string, pos, head uint64) {
	if head > 0 {
		l.Show("%s up to position %d of %d (%.0f%%)", done, pos, head, 100*float64(pos)/float64(head))
		return
	}
	l.Show("%s up to position %d", done, pos)
}
