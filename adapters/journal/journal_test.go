package journal

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// reader collects what a journal's reads hand over.
type reader struct {
	j      *Journal
	lines  []string
	resets int
}

func (r *reader) reset()                  { r.lines, r.resets = nil, r.resets+1 }
func (r *reader) apply(line []byte) error { r.lines = append(r.lines, string(line)); return nil }
func (r *reader) read(t *testing.T) []string {
	t.Helper()
	if err := r.j.Read(r.reset, r.apply); err != nil {
		t.Fatal(err)
	}
	return r.lines
}

func (r *reader) append(t *testing.T, lines ...string) {
	t.Helper()
	err := r.j.Append(r.reset, r.apply, func() ([][]byte, error) {
		out := make([][]byte, len(lines))
		for i, l := range lines {
			out[i] = []byte(l)
		}
		return out, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAReaderSeesWhatAnotherAppendedWithoutReadingItAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	writer, other := &reader{j: New(path)}, &reader{j: New(path)}
	if got := other.read(t); len(got) != 0 {
		t.Fatalf("empty journal read %v", got)
	}
	writer.append(t, `{"a":1}`)
	writer.append(t, `{"b":2}`, `{"c":3}`)
	if got := other.read(t); !slices.Equal(got, []string{`{"a":1}`, `{"b":2}`, `{"c":3}`}) {
		t.Fatalf("read %v", got)
	}
	resets := other.resets
	writer.append(t, `{"d":4}`)
	if got := other.read(t); len(got) != 4 || got[3] != `{"d":4}` || other.resets != resets {
		t.Fatalf("read %v after %d more resets: want the new line added, nothing read again", got, other.resets-resets)
	}
	if got := writer.lines; len(got) != 4 {
		t.Fatalf("the writer read back %v", got)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("journal mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
}

func TestATornLastLineIsLeftUnreadAndCutByTheNextAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	w := &reader{j: New(path)}
	w.append(t, `{"a":1}`)
	// a crash in the middle of writing the next line
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"b":`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r := &reader{j: New(path)}
	if got := r.read(t); !slices.Equal(got, []string{`{"a":1}`}) {
		t.Fatalf("read %v: the torn line must not be read", got)
	}
	w.append(t, `{"c":3}`)
	if got := r.read(t); !slices.Equal(got, []string{`{"a":1}`, `{"c":3}`}) {
		t.Fatalf("read %v after the next append", got)
	}
}

func TestAReplacedJournalIsReadFromItsStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	w := &reader{j: New(path)}
	w.append(t, `{"a":1}`, `{"b":2}`)
	r := &reader{j: New(path)}
	r.read(t)
	resets := r.resets
	if err := WriteAtomic(path, []byte("{\"ab\":3}\n")); err != nil {
		t.Fatal(err)
	}
	if got := r.read(t); !slices.Equal(got, []string{`{"ab":3}`}) || r.resets != resets+1 {
		t.Fatalf("read %v after %d more resets, want 1", got, r.resets-resets)
	}
}
