// Package docs holds the project's documents and the tests that keep them
// and the repository honest: what the README, SECURITY.md and docs/ link to
// and name exists, and the repository holds source, never build output.
package docs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the module root, one level up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", root, err)
	}
	return root
}

// executableMagic is how a built binary starts: ELF (Linux), Mach-O (both
// byte orders, 32 and 64 bit, and universal), PE (Windows).
var executableMagic = [][]byte{
	[]byte("\x7fELF"),
	{0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf}, {0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe}, {0xca, 0xfe, 0xba, 0xbe},
	[]byte("MZ"),
}

// The repository holds source only: no committed binary (a 22 MB
// recallbench once was), whatever its name.
func TestRepositoryHoldsNoBuiltBinaries(t *testing.T) {
	root := repoRoot(t)
	if err := exec.Command("git", "-C", root, "rev-parse", "--is-inside-work-tree").Run(); err != nil {
		t.Skipf("not a git checkout (%v): the committed files cannot be listed", err)
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	files := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	if len(files) < 10 {
		t.Fatalf("git ls-files listed %d files: %q", len(files), files)
	}
	for _, name := range files {
		f, err := os.Open(filepath.Join(root, name))
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 4)
		n, _ := f.Read(head)
		f.Close()
		for _, magic := range executableMagic {
			if bytes.HasPrefix(head[:n], magic) {
				t.Errorf("%s is a built executable; remove it (git rm) and let .gitignore keep it out", name)
			}
		}
	}
}
