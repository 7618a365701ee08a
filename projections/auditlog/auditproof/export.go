package auditproof

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/recallledger/recall/projections/auditlog"
)

// ManifestFormat names version 1 of the export manifest.
const ManifestFormat = "recall-ledger/audit-export/v1"

// Manifest proves an audit export: every row is an entry of the signed
// tree (Checkpoint, of TreeSize leaves), unaltered, in the order and
// number the server returned for Filter. The server signs each page it
// returned (Statement), so a row dropped from both the file and the
// manifest is still named. Hashes is a compact multiproof: the stored
// tree hashes (index → hash) from which each row's inclusion proof is
// rebuilt with tlog.ProveRecord and checked with tlog.CheckRecord.
//
// A JSON export holds its manifest (its "manifest" member); JSON-lines and
// CSV exports have it beside them in FILE.manifest.json.
type Manifest struct {
	Format     string               `json:"format"`
	Tenant     string               `json:"tenant"`
	Filter     string               `json:"filter"`
	FileFormat string               `json:"file_format,omitempty"`
	TreeSize   uint64               `json:"tree_size"`
	TreeBase   uint64               `json:"tree_base"`
	Checkpoint string               `json:"checkpoint"`
	Pages      []ManifestPage       `json:"pages"`
	Hashes     map[string]tlog.Hash `json:"hashes"`
}

// ManifestPage is one page the server returned: the rows after cursor
// After, and the cursor of the next page (0: the last).
type ManifestPage struct {
	After     uint64        `json:"after"`
	Next      uint64        `json:"next"`
	Rows      []ManifestRow `json:"rows"`
	Statement string        `json:"statement"`
}

// ManifestRow is what the server says of one row: its record hash (the
// tree's leaf), its chain hash and whether its content was exported.
type ManifestRow struct {
	Seq        uint64    `json:"seq"`
	RecordHash tlog.Hash `json:"record_hash"`
	ChainHash  string    `json:"chain_hash"`
	Content    bool      `json:"content,omitempty"`
}

// ManifestRowOf is e's manifest row.
func ManifestRowOf(e auditlog.Entry) ManifestRow {
	return ManifestRow{Seq: e.Seq, RecordHash: auditlog.RecordHash(e), ChainHash: e.Hash, Content: e.Content != nil}
}

// StatementText is the note text the server signs for one page:
//
//	recall-ledger audit export v1
//	origin <origin>
//	size <tree size>
//	root <the checkpoint's root hash, base64>
//	filter <the filter, as a URL query>
//	after <cursor>
//	next <cursor, 0 at the end>
//	seqs <the rows' seqs, as ranges: 1-5,7; - for none>
//	rows <lowercase hex SHA-256 of the rows, "seq record_hash chain_hash content\n" each>
//
// Its first line is not a checkpoint's origin: the key that signs
// checkpoints signs these too, and neither can be taken for the other.
func StatementText(c Checkpoint, filter string, p ManifestPage) string {
	var b strings.Builder
	fmt.Fprintf(&b, "recall-ledger audit export v1\norigin %s\nsize %d\nroot %s\nfilter %s\nafter %d\nnext %d\nseqs %s\nrows %s\n",
		c.Origin, c.Size, c.Root, filter, p.After, p.Next, seqRanges(p.Rows), rowsDigest(p.Rows))
	return b.String()
}

func seqRanges(rows []ManifestRow) string {
	if len(rows) == 0 {
		return "-"
	}
	var parts []string
	for i := 0; i < len(rows); {
		j := i
		for j+1 < len(rows) && rows[j+1].Seq == rows[j].Seq+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.FormatUint(rows[i].Seq, 10))
		} else {
			parts = append(parts, strconv.FormatUint(rows[i].Seq, 10)+"-"+strconv.FormatUint(rows[j].Seq, 10))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// parseSeqRanges reads seqRanges' output.
func parseSeqRanges(s string) ([]uint64, error) {
	if s == "-" {
		return nil, nil
	}
	var out []uint64
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("seqs %q", part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 64); err != nil || b < a || b-a > 1_000_000 {
				return nil, fmt.Errorf("seqs %q", part)
			}
		}
		for x := a; x <= b; x++ {
			out = append(out, x)
		}
	}
	return out, nil
}

func rowsDigest(rows []ManifestRow) string {
	h := sha256.New()
	for _, r := range rows {
		fmt.Fprintf(h, "%d %s %s %t\n", r.Seq, r.RecordHash, r.ChainHash, r.Content)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// statement is a parsed, verified page statement.
type statement struct {
	origin, filter string
	root           string
	size           uint64
	after, next    uint64
	seqs           []uint64
	rows           string
}

func openStatement(signed string, keys Keys) (statement, error) {
	n, err := keys.open(signed)
	if err != nil {
		return statement{}, err
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	want := []string{"recall-ledger audit export v1", "origin ", "size ", "root ", "filter ", "after ", "next ", "seqs ", "rows "}
	if len(lines) != len(want) {
		return statement{}, errors.New("not an export statement")
	}
	vals := make([]string, len(want))
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			return statement{}, fmt.Errorf("export statement line %d: want %q", i+1, w)
		}
		vals[i] = strings.TrimPrefix(lines[i], w)
	}
	st := statement{origin: vals[1], root: vals[3], filter: vals[4], rows: vals[8]}
	for i, dst := range map[int]*uint64{2: &st.size, 5: &st.after, 6: &st.next} {
		if *dst, err = strconv.ParseUint(vals[i], 10, 64); err != nil {
			return statement{}, fmt.Errorf("export statement line %d: %q", i+1, vals[i])
		}
	}
	if st.seqs, err = parseSeqRanges(vals[7]); err != nil {
		return statement{}, fmt.Errorf("export statement: %w", err)
	}
	if !signedBy(n, strings.SplitN(st.origin, "/", 2)[0]) {
		return statement{}, fmt.Errorf("export statement of %q is not signed by its deployment's key", st.origin)
	}
	return st, nil
}

// HashesFor returns the manifest form of a multiproof's hashes.
func HashesFor(hs map[int64]tlog.Hash) map[string]tlog.Hash {
	out := make(map[string]tlog.Hash, len(hs))
	for i, h := range hs {
		out[strconv.FormatInt(i, 10)] = h
	}
	return out
}

// Merge appends the pages of next, an answer to the request for the page
// after m's last, proven against the same checkpoint.
func (m *Manifest) Merge(next Manifest) error {
	if next.Tenant != m.Tenant || next.Filter != m.Filter || next.TreeSize != m.TreeSize || next.Checkpoint != m.Checkpoint {
		return errors.New("the next page is proven against another checkpoint or filter")
	}
	m.Pages = append(m.Pages, next.Pages...)
	if m.Hashes == nil {
		m.Hashes = map[string]tlog.Hash{}
	}
	for k, v := range next.Hashes {
		m.Hashes[k] = v
	}
	return nil
}

// ExportReport is what a verified export proved.
type ExportReport struct {
	Rows       int    `json:"rows"`
	Tenant     string `json:"tenant"`
	Origin     string `json:"origin"`
	TreeSize   uint64 `json:"tree_size"`
	RootHash   string `json:"root_hash"`
	Filter     string `json:"filter"`
	Complete   bool   `json:"complete"`          // the last page is in: nothing after it matched
	FirstAfter uint64 `json:"after,omitempty"`   // the export started after this cursor
	Checkpoint string `json:"checkpoint"`        // the signed checkpoint, to keep and check consistency with later
	Content    int    `json:"content_checked"`   // rows whose kept content matched content_sha256
	ContentOff int    `json:"content_not_kept"`  // rows exported without content
	Problem    string `json:"problem,omitempty"` // set by callers that report failures as JSON
}

// VerifyExport checks rows (an export's entries, in file order) against
// its manifest with nothing but the trusted keys. It names the first bad
// row: one altered (its record hash, chain hash or content no longer
// match), dropped, added or moved (the seqs the server signed for its
// pages differ), or one not in the signed tree.
func VerifyExport(m Manifest, rows []auditlog.Entry, keys Keys) (ExportReport, error) {
	rep := ExportReport{Tenant: m.Tenant, Filter: m.Filter}
	if m.Format != ManifestFormat {
		return rep, fmt.Errorf("manifest format %q: want %q", m.Format, ManifestFormat)
	}
	cp, err := OpenCheckpoint(m.Checkpoint, keys, m.Tenant)
	if err != nil {
		return rep, err
	}
	rep.Origin, rep.TreeSize, rep.RootHash, rep.Checkpoint = cp.Origin, cp.Size, cp.Root.String(), m.Checkpoint
	if cp.Size != m.TreeSize {
		return rep, fmt.Errorf("the manifest says size %d but its checkpoint is of size %d", m.TreeSize, cp.Size)
	}
	hashes := make(map[int64]tlog.Hash, len(m.Hashes))
	for k, v := range m.Hashes {
		i, err := strconv.ParseInt(k, 10, 64)
		if err != nil || i < 0 {
			return rep, fmt.Errorf("manifest hash index %q", k)
		}
		hashes[i] = v
	}
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			h, ok := hashes[x]
			if !ok {
				return nil, fmt.Errorf("the manifest lacks tree hash %d", x)
			}
			out[i] = h
		}
		return out, nil
	})
	// the signed pages: each follows the one before, and say which seqs
	// the file must hold, in order
	if len(m.Pages) == 0 {
		return rep, errors.New("the manifest has no pages")
	}
	var signedSeqs []uint64
	var listed []ManifestRow
	for i, p := range m.Pages {
		st, err := openStatement(p.Statement, keys)
		if err != nil {
			return rep, fmt.Errorf("page %d: %w", i+1, err)
		}
		switch {
		case st.origin != cp.Origin || st.size != cp.Size || st.root != cp.Root.String() || st.filter != m.Filter:
			return rep, fmt.Errorf("page %d: its statement is for %s size %d root %s filter %q, not this export's checkpoint and filter", i+1, st.origin, st.size, st.root, st.filter)
		case st.after != p.After || st.next != p.Next:
			return rep, fmt.Errorf("page %d: the manifest's cursors are not the ones the server signed", i+1)
		case i == 0:
			rep.FirstAfter = st.after
		case st.after != m.Pages[i-1].Next:
			return rep, fmt.Errorf("page %d starts after %d, but the page before ended at %d: a page is missing", i+1, st.after, m.Pages[i-1].Next)
		}
		signedSeqs = append(signedSeqs, st.seqs...)
		listed = append(listed, p.Rows...)
		if st.rows != rowsDigest(p.Rows) {
			// the manifest's rows were edited: name the first seq that differs
			for j, seq := range st.seqs {
				if j >= len(p.Rows) || p.Rows[j].Seq != seq {
					return rep, &ProblemError{Seq: seq, Problem: fmt.Sprintf("page %d of the manifest does not list the rows the server signed (seq %d is missing or moved)", i+1, seq)}
				}
			}
			return rep, fmt.Errorf("page %d of the manifest does not match the rows the server signed", i+1)
		}
		if len(p.Rows) != len(st.seqs) {
			return rep, fmt.Errorf("page %d: the server's statement lists %d seqs for %d rows", i+1, len(st.seqs), len(p.Rows))
		}
		for j, r := range p.Rows {
			if r.Seq != st.seqs[j] {
				return rep, &ProblemError{Seq: st.seqs[j], Problem: fmt.Sprintf("page %d: the server's statement lists seq %d where its rows have %d", i+1, st.seqs[j], r.Seq)}
			}
		}
	}
	rep.Complete = len(m.Pages) > 0 && m.Pages[len(m.Pages)-1].Next == 0
	for i := 0; i < max(len(rows), len(signedSeqs)); i++ {
		switch {
		case i >= len(signedSeqs):
			return rep, &ProblemError{Row: i + 1, Seq: rows[i].Seq, Problem: "the server's signed export has no such row (an added row)"}
		case i >= len(rows):
			return rep, &ProblemError{Row: i + 1, Seq: signedSeqs[i], Problem: "missing from the file (a dropped row)"}
		case rows[i].Seq != signedSeqs[i]:
			what := "a dropped or reordered row"
			if i+1 < len(signedSeqs) && rows[i].Seq == signedSeqs[i+1] {
				what = "a dropped row"
			} else if i+1 < len(rows) && rows[i+1].Seq == signedSeqs[i] {
				what = "an added row"
			} else if containsSeq(signedSeqs, rows[i].Seq) {
				what = "a reordered row"
			}
			return rep, &ProblemError{Row: i + 1, Seq: signedSeqs[i], Problem: fmt.Sprintf("the file has seq %d here (%s)", rows[i].Seq, what)}
		}
	}
	for i, e := range rows {
		r := listed[i]
		bad := func(p string) error { return &ProblemError{Row: i + 1, Seq: e.Seq, Problem: p} }
		rh := auditlog.RecordHash(e)
		switch {
		case rh != r.RecordHash:
			return rep, bad("the row does not match its record hash (a changed cell)")
		case e.Hash != r.ChainHash:
			return rep, bad("the row's hash is not the chain hash the server signed (a changed cell)")
		case auditlog.ComputeHash(e.PrevHash, e) != e.Hash:
			return rep, bad("the row's prev_hash and hash do not chain (a changed cell)")
		case r.Content && e.Content == nil:
			return rep, bad("its content was exported but is missing from the file (a changed cell)")
		case !r.Content && e.Content != nil:
			return rep, bad("the file has content the server did not export (a changed cell)")
		}
		if p := entryProblem(e); p != "" {
			return rep, bad(p)
		}
		if e.Content != nil {
			rep.Content++
		} else {
			rep.ContentOff++
		}
		if e.Seq <= m.TreeBase || e.Seq-m.TreeBase > cp.Size {
			return rep, bad(fmt.Sprintf("not in the signed tree of size %d", cp.Size))
		}
		leaf := int64(e.Seq - m.TreeBase - 1)
		proof, err := tlog.ProveRecord(int64(cp.Size), leaf, reader)
		if err == nil {
			err = tlog.CheckRecord(proof, int64(cp.Size), cp.Root, leaf, rh)
		}
		if err != nil {
			return rep, bad(fmt.Sprintf("not proven in the signed tree of size %d: %v", cp.Size, err))
		}
		rep.Rows++
	}
	return rep, nil
}

func containsSeq(seqs []uint64, seq uint64) bool {
	i := sort.Search(len(seqs), func(i int) bool { return seqs[i] >= seq })
	return i < len(seqs) && seqs[i] == seq
}

// ParseRows reads an export file's rows: CSV (auditlog's columns, cells
// neutralised against formulas turned back into the values hashed),
// JSON lines (one entry a line) or JSON (an object with "entries").
func ParseRows(format string, data []byte) ([]auditlog.Entry, error) {
	switch format {
	case "csv":
		return auditlog.ReadCSV(bytes.NewReader(data))
	case "jsonl":
		return auditlog.ReadJSONLines(bytes.NewReader(data))
	case "json":
		return auditlog.ReadJSONPage(data)
	}
	return nil, fmt.Errorf("export format %q: want csv, jsonl or json", format)
}
