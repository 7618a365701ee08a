package docs

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeLayout is the README's Layout block: each line's folder (the
// first column of the line that last had one) and its text.
func readmeLayout(t *testing.T, root string) (block string, lines [][2]string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "\n## Layout\n")
	if !ok {
		t.Fatal("the README has no Layout section")
	}
	_, after, ok = strings.Cut(after, "```\n")
	block, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		t.Fatal("the README's Layout section has no block")
	}
	folder := ""
	for _, line := range strings.Split(strings.TrimRight(block, "\n"), "\n") {
		if line != "" && line[0] != ' ' {
			folder, line, _ = strings.Cut(line, " ")
		}
		lines = append(lines, [2]string{folder, line})
	}
	return block, lines
}

// trackedFolders are the folders git holds files in, but those inside
// testdata and the web app's own source tree.
func trackedFolders(t *testing.T, root string) map[string]bool {
	t.Helper()
	if err := exec.Command("git", "-C", root, "rev-parse", "--is-inside-work-tree").Run(); err != nil {
		t.Skipf("not a git checkout (%v): the committed files cannot be listed", err)
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	folders := map[string]bool{}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if _, err := os.Stat(filepath.Join(root, name)); err != nil {
			continue // deleted in the work tree, not yet committed
		}
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if strings.Contains("/"+dir+"/", "/testdata/") || strings.HasPrefix(dir, "adapters/console/web/") {
				continue
			}
			folders[dir] = true
		}
	}
	return folders
}

var layoutPath = regexp.MustCompile(`(?:^|[\s(,;])([a-z.][a-z0-9_.-]*(?:/[a-z][a-z0-9_.-]*)+)/?`)

// The README's Layout section matches the tree: every folder the
// repository holds is named in it (by its path, or by its name under the
// folder it belongs to), and every folder it names exists.
func TestTheREADMELayoutMatchesTheTree(t *testing.T) {
	root := repoRoot(t)
	block, lines := readmeLayout(t, root)
	folders := trackedFolders(t, root)
	if len(folders) < 20 {
		t.Fatalf("git holds %d folders: %v", len(folders), folders)
	}
	for dir := range folders {
		name := regexp.MustCompile(`(^|[^\w.-])` + regexp.QuoteMeta(path.Base(dir)) + `($|[^\w-])`)
		if !name.MatchString(block) {
			t.Errorf("the README's Layout does not name %s/", dir)
		}
	}
	for _, l := range lines {
		folder, text := strings.TrimSuffix(l[0], "/"), l[1]
		if _, err := os.Stat(filepath.Join(root, folder)); err != nil {
			t.Errorf("the README's Layout lists %s/, which the tree does not hold", folder)
		}
		for _, m := range layoutPath.FindAllStringSubmatch(text, -1) {
			p := m[1]
			if folders[p] || folders[folder+"/"+p] {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, folder, p)); err == nil {
				continue // a file
			}
			t.Errorf("the README's Layout names %s (under %s/), which the tree does not hold", p, folder)
		}
	}
}
