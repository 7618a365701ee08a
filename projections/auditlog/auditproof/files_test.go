package auditproof

import (
	"archive/zip"
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/projections/auditlog"
)

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A verified export archive is one export file and, unless it is JSON,
// its manifest beside it; anything else is refused, saying what is wrong.
func TestAnExportArchiveIsOneFileAndItsManifest(t *testing.T) {
	var made bytes.Buffer
	rows := []auditlog.Entry{{Seq: 1, Action: auditlog.ActionSend, Actor: "alice"}}
	if err := WriteZip(&made, "audit-a-a-1", "csv", time.Now(), rows, Manifest{Format: ManifestFormat, Tenant: "a/a"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		archive []byte
		want    string // "" = accepted
	}{
		{"as the server writes it", made.Bytes(), ""},
		{"json holds its manifest", zipOf(t, map[string]string{"x.json": `{}`}), ""},
		{"not a zip", []byte("seq,at\n"), "not a zip archive"},
		{"no manifest beside csv", zipOf(t, map[string]string{"x.csv": "seq\n"}), "without its manifest"},
		{"two exports", zipOf(t, map[string]string{"x.csv": "", "y.jsonl": ""}), "two exports"},
		{"a stranger", zipOf(t, map[string]string{"x.csv": "", "x.csv.manifest.json": "{}", "run.sh": ""}), "not an export file"},
		{"empty", zipOf(t, map[string]string{}), "no export file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ex, err := ReadZip(c.archive)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want an error saying %q", err, c.want)
			}
			if c.name == "as the server writes it" {
				got, err := ParseRows(ex.Format, ex.Data)
				if err != nil || len(got) != 1 || got[0].Actor != "alice" || !bytes.Contains(ex.Manifest, []byte(`"file_format": "csv"`)) {
					t.Fatalf("rows %+v %v, manifest %s", got, err, ex.Manifest)
				}
			}
		})
	}
}
