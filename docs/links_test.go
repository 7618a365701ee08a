package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// documents are the files a newcomer reads: the README, SECURITY.md and
// everything in docs/.
func documents(t *testing.T, root string) []string {
	t.Helper()
	docs := []string{filepath.Join(root, "README.md"), filepath.Join(root, "SECURITY.md")}
	more, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	return append(docs, more...)
}

var (
	markdownLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// a backticked name of a document or of something in the repository's
	// top-level folders, e.g. `docs/schema/events-v1.json`, `../shared/DESIGN.md`
	quotedPath = regexp.MustCompile("`((?:\\.\\./|\\./)?(?:[\\w.-]+/)*[\\w.-]+\\.md|(?:\\.\\./)+[^`\\s]+|(?:domain|projections|adapters|cmd|scripts|docs|\\.ci)/[^`\\s]*)`")
)

// Every link and every path the documents name points inside the
// repository, at something that exists: a clone is all a reader has (the
// README once pointed to ../shared/DESIGN.md, outside it).
func TestDocumentsLinkOnlyToWhatTheRepositoryHolds(t *testing.T) {
	root := repoRoot(t)
	checked := 0
	for _, doc := range documents(t, root) {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(root, doc)
		var targets []string
		for _, m := range markdownLink.FindAllStringSubmatch(string(b), -1) {
			targets = append(targets, m[1])
		}
		for _, m := range quotedPath.FindAllStringSubmatch(string(b), -1) {
			targets = append(targets, m[1])
		}
		for _, target := range targets {
			if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") || strings.HasPrefix(target, "#") {
				continue
			}
			checked++
			path, _, _ := strings.Cut(target, "#")
			abs := filepath.Join(filepath.Dir(doc), path)
			if _, err := os.Stat(abs); err != nil && !strings.HasPrefix(path, ".") {
				abs = filepath.Join(root, path) // a repository path, named from the root
			}
			if rel, err := filepath.Rel(root, abs); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s names %s, outside the repository", name, target)
				continue
			}
			t.Logf("%s: %s", name, target)
			if _, err := os.Stat(abs); err != nil {
				t.Errorf("%s names %s, which the repository does not hold", name, target)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d links and paths found: the patterns no longer match the documents", checked)
	}
}

var (
	namedTest = regexp.MustCompile(`\b(?:Test|Fuzz|Benchmark)[A-Z]\w*(…)?`)
	testFunc  = regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark)[A-Z]\w*)\(`)
)

// Every test the documents name as the proof of a promise exists (a name
// ending in … stands for the tests it begins): a renamed or deleted test
// must take its promise's proof with it.
func TestDocumentsNameOnlyTestsThatExist(t *testing.T) {
	root := repoRoot(t)
	exists := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range testFunc.FindAllStringSubmatch(string(b), -1) {
				exists[m[1]] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, doc := range documents(t, root) {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(root, doc)
		for _, m := range namedTest.FindAllStringSubmatch(string(b), -1) {
			named++
			found := exists[m[0]]
			if prefix, ok := strings.CutSuffix(m[0], "…"); ok {
				for fn := range exists {
					found = found || strings.HasPrefix(fn, prefix)
				}
			}
			if !found {
				t.Errorf("%s names %s as a proof; no such test", name, m[0])
			}
		}
	}
	if named < 30 {
		t.Fatalf("only %d test names found in the documents: the pattern no longer matches them", named)
	}
}
