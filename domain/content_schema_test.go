package domain_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The sealed forms validate against the published JSON Schema, and a
// shredded send that still carries content does not.
func TestSealedEventsMatchTheSchema(t *testing.T) {
	s := compileSchema(t)
	files, err := filepath.Glob(filepath.Join("testdata", "sealed", "*.golden.json"))
	if err != nil || len(files) != 3 {
		t.Fatalf("sealed golden files: %v %v", files, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate(s, raw); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	raw, _ := os.ReadFile(filepath.Join("testdata", "sealed", "MessageSent.shredded.golden.json"))
	bad := strings.Replace(string(raw), `"content": ""`, `"content": "leaked"`, 1)
	if bad == string(raw) {
		t.Fatal("the shredded golden file has no empty content to alter")
	}
	if validate(s, []byte(bad)) == nil {
		t.Fatal("a shredded send with content validates")
	}
	badKey := strings.Replace(string(raw), `"key_id": "5f0e`, `"key_id": "5F0E`, 1)
	if validate(s, []byte(badKey)) == nil {
		t.Fatal("a key id that is not lower-case hex validates")
	}
}
