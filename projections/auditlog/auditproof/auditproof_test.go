package auditproof

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections/auditlog"
)

func TestCheckpointTextIsTheC2SPFormatAndParsesStrictly(t *testing.T) {
	var root tlog.Hash
	root[0] = 1
	c := Checkpoint{Origin: "deploy/acme/chat", Size: 12, Root: root}
	if got, want := c.Text(), "deploy/acme/chat\n12\nAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"; got != want {
		t.Fatalf("text %q, want %q", got, want)
	}
	if back, err := ParseCheckpoint(c.Text()); err != nil || back != c || back.Tenant() != "acme/chat" {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	for _, bad := range []string{
		"",
		"deploy/acme/chat\n12\nAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",         // no final newline
		"deploy/acme/chat\n012\nAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",      // leading zero
		"deploy/acme/chat\n-1\nAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",       // not a size
		"deploy/acme/chat\n12\nAQAA\n",                                               // short hash
		"deploy/acme/chat\n12\nAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\next\n",  // an extension line
		"acme/chat\n12\nAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",              // no deployment
		"recall-ledger audit export v1\norigin deploy/acme/chat\nsize 12\nfilter \n", // a statement
		"deploy/acme/chat/x\n12\nAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",     // not org/app
	} {
		if _, err := ParseCheckpoint(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// fixture is a tenant's tree of entries, signed with a deployment key,
// and an export of some of its entries in two pages.
type fixture struct {
	t       testing.TB
	signer  note.Signer
	keys    Keys
	entries []auditlog.Entry
	hashes  []tlog.Hash // the tree's stored hashes
	cp      Checkpoint
}

func newFixture(t testing.TB, n int) *fixture {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "deploy")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t}
	f.signer, _ = note.NewSigner(skey)
	f.keys, _ = ParseKeys(vkey)
	prev := ""
	for i := 1; i <= n; i++ {
		content := fmt.Sprint("message ", i)
		e := auditlog.Entry{Seq: uint64(i), At: domain.NewTime(time.Date(2026, 11, 3, 9, 0, i, 0, time.UTC)), Position: uint64(10 * i),
			EventID: fmt.Sprint("ev-", i), Action: auditlog.ActionSend, Actor: "alice", ContentSHA256: sha(content), Content: &content, PrevHash: prev}
		e.Hash = auditlog.ComputeHash(prev, e)
		prev = e.Hash
		hs, err := tlog.StoredHashes(int64(i-1), auditlog.AppendCanonical(nil, e), f)
		if err != nil {
			t.Fatal(err)
		}
		f.hashes = append(f.hashes, hs...)
		f.entries = append(f.entries, e)
	}
	root, _ := tlog.TreeHash(int64(n), f)
	f.cp = Checkpoint{Origin: "deploy/acme/chat", Size: uint64(n), Root: root}
	return f
}

func (f *fixture) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = f.hashes[x]
	}
	return out, nil
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// manifest exports the entries of seqs in pages of pageSize, as the
// server does.
func (f *fixture) manifest(seqs []uint64, pageSize int) (Manifest, []auditlog.Entry) {
	f.t.Helper()
	signed, err := SignCheckpoint(f.cp, f.signer)
	if err != nil {
		f.t.Fatal(err)
	}
	m := Manifest{Format: ManifestFormat, Tenant: "acme/chat", Filter: "actor=alice", TreeSize: f.cp.Size, Checkpoint: signed, Hashes: map[string]tlog.Hash{}}
	var rows []auditlog.Entry
	after := uint64(0)
	for i := 0; i < len(seqs); i += pageSize {
		p := ManifestPage{After: after}
		for _, seq := range seqs[i:min(i+pageSize, len(seqs))] {
			e := f.entries[seq-1]
			rows = append(rows, e)
			p.Rows = append(p.Rows, ManifestRowOf(e))
			rec := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
				hs, _ := f.ReadHashes(idx)
				for j, x := range idx {
					m.Hashes[fmt.Sprint(x)] = hs[j]
				}
				return hs, nil
			})
			if _, err := tlog.ProveRecord(int64(f.cp.Size), int64(seq-1), rec); err != nil {
				f.t.Fatal(err)
			}
		}
		if i+pageSize < len(seqs) {
			p.Next = p.Rows[len(p.Rows)-1].Seq
		}
		st, err := note.Sign(&note.Note{Text: StatementText(f.cp, m.Filter, p)}, f.signer)
		if err != nil {
			f.t.Fatal(err)
		}
		p.Statement = string(st)
		m.Pages = append(m.Pages, p)
		after = p.Next
	}
	return m, rows
}

func TestVerifyExportNamesTheFirstBadRow(t *testing.T) {
	f := newFixture(t, 13)
	seqs := []uint64{2, 3, 5, 7, 8, 9, 12}
	cases := []struct {
		name   string
		tamper func(m *Manifest, rows []auditlog.Entry) []auditlog.Entry
		want   string
	}{
		{"untouched", func(m *Manifest, rows []auditlog.Entry) []auditlog.Entry { return rows }, ""},
		{"a field changed", func(m *Manifest, rows []auditlog.Entry) []auditlog.Entry { rows[2].Actor = "mallory"; return rows }, "row 3 (seq 5): the row does not match its record hash"},
		{"content changed", func(m *Manifest, rows []auditlog.Entry) []auditlog.Entry {
			c := "other"
			rows[1].Content = &c
			return rows
		}, "row 2 (seq 3): content does not match content_sha256"},
		{"content removed", func(m *Manifest, rows []auditlog.Entry) []auditlog.Entry { rows[0].Content = nil; return rows }, "row 1 (seq 2): its content was exported but is missing"},
		{"a row dropped from the file", func(m *Manifest, rows []auditlog.Entry) []auditlog.Entry { return append(rows[:3:3], rows[4:]...) }, "row 4 (seq 7): the file has seq 8 here (a dropped row)"},
		{"rows swapped", func(m *Manifest, rows []auditlog.Entry) []auditlog.Entry {
			rows[4], rows[5] = rows[5], rows[4]
			return rows
		}, "row 5 (seq 8): the file has seq 9 here"},
		{"the last row dropped", func(m *Manifest, rows []auditlog.Entry) []auditlog.Entry { return rows[:6] }, "row 7 (seq 12): missing from the file"},
		{"a row dropped from the file and the manifest", func(m *Manifest, rows []auditlog.Entry) []auditlog.Entry {
			m.Pages[1].Rows = append(m.Pages[1].Rows[:0:0], m.Pages[1].Rows[1:]...)
			return append(rows[:3:3], rows[4:]...)
		}, "seq 7: page 2 of the manifest does not list the rows the server signed"},
		{"a page dropped", func(m *Manifest, rows []auditlog.Entry) []auditlog.Entry {
			m.Pages = append(m.Pages[:1:1], m.Pages[2:]...)
			return append(rows[:3:3], rows[6:]...)
		}, "a page is missing"},
		{"a hash of the multiproof altered", func(m *Manifest, rows []auditlog.Entry) []auditlog.Entry {
			for k := range m.Hashes {
				m.Hashes[k] = tlog.Hash{}
			}
			return rows
		}, "row 1 (seq 2): not proven in the signed tree"},
		{"another tree's checkpoint", func(m *Manifest, rows []auditlog.Entry) []auditlog.Entry {
			c := f.cp
			c.Root[0] ^= 1
			m.Checkpoint, _ = SignCheckpoint(c, f.signer)
			return rows
		}, "page 1: its statement is for"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, rows := f.manifest(seqs, 3)
			rows = c.tamper(&m, rows)
			rep, err := VerifyExport(m, rows, f.keys)
			switch {
			case c.want == "" && (err != nil || rep.Rows != len(seqs) || !rep.Complete || rep.Content != len(seqs)):
				t.Fatalf("%+v %v", rep, err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v; want %q", err, c.want)
			}
		})
	}
}

func TestReplayedOlderCheckpointIsRefusedNamingWhatItHides(t *testing.T) {
	f := newFixture(t, 9)
	older := Checkpoint{Origin: f.cp.Origin, Size: 5}
	older.Root, _ = tlog.TreeHash(5, f)
	err := CheckConsistency(f.cp, older, nil)
	if err == nil || !strings.Contains(err.Error(), "seq 6:") || !strings.Contains(err.Error(), "leaves 6 to 9") {
		t.Fatalf("replay: %v", err)
	}
	fork := f.cp
	fork.Root[3] ^= 1
	if err := CheckConsistency(f.cp, fork, nil); err == nil || !strings.Contains(err.Error(), "fork") {
		t.Fatalf("fork: %v", err)
	}
	proof, _ := tlog.ProveTree(9, 5, f)
	if err := CheckConsistency(older, f.cp, proof); err != nil {
		t.Fatalf("a real extension: %v", err)
	}
}

// Whatever an export file and its manifest hold, verifying them is an
// answer or an error, never a panic.
func FuzzVerifyExport(f *testing.F) {
	fx := newFixture(f, 5)
	m, rows := fx.manifest([]uint64{1, 2, 4}, 2)
	mb, _ := json.Marshal(m)
	var csv bytes.Buffer
	cw, _ := auditlog.NewCSV(&csv)
	for _, e := range rows {
		_ = cw.Write(e)
	}
	_ = cw.Flush()
	f.Add(csv.Bytes(), mb)
	f.Add([]byte("seq\n"), []byte(`{"format":"recall-ledger/audit-export/v1","pages":[]}`))
	f.Fuzz(func(t *testing.T, file, manifest []byte) {
		var m Manifest
		if json.Unmarshal(manifest, &m) != nil {
			return
		}
		rows, err := ParseRows("csv", file)
		if err != nil {
			return
		}
		_, _ = VerifyExport(m, rows, fx.keys)
	})
}
