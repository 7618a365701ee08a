package domain_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The JSON Schema in docs/ documents the event contract for analytics
// pipelines; every golden event must validate against it, and a broken
// event must not.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "docs", "schema", "events-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("events-v1.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("events-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validate(s *jsonschema.Schema, raw []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

func TestGoldenEventsMatchTheSchema(t *testing.T) {
	s := compileSchema(t)
	files, err := filepath.Glob(filepath.Join("testdata", "*.golden.json"))
	if err != nil || len(files) != 16 {
		t.Fatalf("golden files: %v %v", files, err)
	}
	redacted, err := filepath.Glob(filepath.Join("testdata", "feed", "*.golden.json"))
	if err != nil || len(redacted) != 2 {
		t.Fatalf("redacted golden files: %v %v", redacted, err)
	}
	for _, f := range append(files, redacted...) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate(s, raw); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestSchemaRejectsBrokenEvents(t *testing.T) {
	s := compileSchema(t)
	raw, err := os.ReadFile(filepath.Join("testdata", "RecallRejected.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	good := string(raw)
	for name, broken := range map[string]string{
		"unknown type":         strings.Replace(good, `"type": "RecallRejected"`, `"type": "RecallMaybe"`, 1),
		"bad timestamp":        strings.Replace(good, `"2026-11-24T10:00:00.120Z"`, `"2026-11-24 10:00"`, 1),
		"no milliseconds":      strings.Replace(good, `"2026-11-24T10:00:00.120Z"`, `"2026-11-24T10:00:00Z"`, 1),
		"missing position":     strings.Replace(good, `"position": 104,`, ``, 1),
		"position zero":        strings.Replace(good, `"position": 104`, `"position": 0`, 1),
		"unknown reason":       strings.Replace(good, `"exceed_time_limit"`, `"too_late"`, 1),
		"data missing a field": strings.Replace(good, `"actor": "alice",`, ``, 1),
		"bad event id":         strings.Replace(good, `0b4c6c1e-1d1f-4a43-9d55-5a7e2a1d0004`, `not-a-uuid`, 1),
		"schema version 2":     strings.Replace(good, `"schema_version": 1`, `"schema_version": 2`, 1),
	} {
		if broken == good {
			t.Fatalf("%s: the replacement did not apply", name)
		}
		if err := validate(s, []byte(broken)); err == nil {
			t.Errorf("%s: the schema accepted it", name)
		}
	}
}

// A redacted MessageSent is held to what content_redacted says.
func TestSchemaHoldsRedactedSendsToTheirMode(t *testing.T) {
	s := compileSchema(t)
	read := func(mode string) string {
		raw, err := os.ReadFile(filepath.Join("testdata", "feed", "MessageSent."+mode+".golden.json"))
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	none, sha := read("none"), read("sha256")
	const hash = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	for name, broken := range map[string]string{
		"none with a content hash": strings.Replace(none, `"content_sha256": ""`, `"content_sha256": "`+hash+`"`, 1),
		"none with content":        strings.Replace(none, `"content": ""`, `"content": "leak"`, 1),
		"sha256 with content":      strings.Replace(sha, `"content": ""`, `"content": "leak"`, 1),
		"sha256 without its hash":  strings.Replace(sha, `"content_sha256": "`+hash+`"`, `"content_sha256": ""`, 1),
		"an unknown redaction":     strings.Replace(sha, `"content_redacted": "sha256"`, `"content_redacted": "some"`, 1),
		"plaintext with an empty hash": strings.Replace(strings.Replace(sha, `,
    "content_redacted": "sha256"`, ``, 1), `"content_sha256": "`+hash+`"`, `"content_sha256": ""`, 1),
	} {
		if broken == none || broken == sha {
			t.Fatalf("%s: the replacement did not apply", name)
		}
		if err := validate(s, []byte(broken)); err == nil {
			t.Errorf("%s: the schema accepted it", name)
		}
	}
}
