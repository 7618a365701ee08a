package auditlog

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/recallledger/recall/domain/codec"
	"github.com/recallledger/recall/projections"
)

// Filter selects entries. Zero fields match everything.
type Filter struct {
	From, To       time.Time // at in [From, To]
	Actor          string
	ConversationID string
	MsgID          string
	Action         string
	Outcome        string
	After          uint64 // cursor: entries with seq > After
	// UpTo, when not 0, ends the query at entry UpTo: an export proven
	// against one checkpoint stops at the entries that checkpoint covers.
	UpTo  uint64
	Limit int
}

// Page is one page of a query; NextCursor is 0 at the end.
type Page struct {
	Entries    []Entry `json:"entries"`
	NextCursor uint64  `json:"next_cursor,omitempty"`
}

// maxExamined bounds the entries one page reads, so a query whose filters
// match little cannot hold the server: the page ends early with a cursor.
const maxExamined = 50_000

// minFetch is the fewest index hits read at once when other filters may
// reject some of them, so a sparse match does not turn into reads one by
// one.
const minFetch = 32

// timeSlack covers events whose occurred_at is slightly out of position
// order (a decision's receipt time precedes its append).
const timeSlack = time.Minute

func (f Filter) matches(e Entry) bool {
	return (f.Actor == "" || e.Actor == f.Actor) &&
		(f.ConversationID == "" || e.ConversationID == f.ConversationID) &&
		(f.MsgID == "" || e.MsgID == f.MsgID) &&
		(f.Action == "" || e.Action == f.Action) &&
		(f.Outcome == "" || e.Outcome == f.Outcome) &&
		(f.From.IsZero() || !e.At.Time().Before(f.From)) &&
		(f.To.IsZero() || !e.At.Time().After(f.To))
}

// Query returns a page of the tenant's entries matching f, in seq order,
// driven by the most selective index among the filters.
func Query(store projections.Store, tenant string, f Filter) (Page, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	p, err := query(store, tenant, f)
	if err != nil {
		return Page{}, fmt.Errorf("audit query %s: %w", tenant, err)
	}
	return p.page, nil
}

// query collects the page, with what it took to find it.
func query(store projections.Store, tenant string, f Filter) (*pager, error) {
	p := &pager{tenant: tenant, f: f, page: Page{Entries: []Entry{}}}
	err := store.View(Name, func(tx projections.Tx) error {
		recallIndexes, err := projections.Kept(tx, recallIndexesKey)
		if err != nil {
			return err
		}
		if field, value := f.index(recallIndexes); field != "" {
			err = p.scanIndex(tx, field, value)
		} else {
			err = p.scanLog(tx)
		}
		p.finish()
		return err
	})
	return p, err
}

// index is the most selective index for f: its field and value, or ""
// when f filters on no indexed field. One actor's or one conversation's
// recall attempts are read from the attempts' own index when the read
// model keeps it (recallindex.go).
func (f Filter) index(recallIndexes bool) (field, value string) {
	for _, c := range [][2]string{{"msg_id", f.MsgID}, {"conversation_id", f.ConversationID}, {"actor", f.Actor}, {"action", f.Action}, {"outcome", f.Outcome}} {
		if c[1] == "" {
			continue
		}
		if recallIndexes && f.Action == ActionRecall && (c[0] == "conversation_id" || c[0] == "actor") {
			return recallIndexField(c[0]), c[1]
		}
		return c[0], c[1]
	}
	return "", ""
}

// pager collects one page of a query.
type pager struct {
	tenant   string
	f        Filter
	page     Page
	examined int
	read     int    // entries read from the store, examined or not
	last     uint64 // the last seq looked at
}

// take looks at one entry (nil when purged since it was indexed) and
// reports whether the page wants more.
func (p *pager) take(seq uint64, stored []byte) (bool, error) {
	if p.f.UpTo != 0 && seq > p.f.UpTo {
		return false, nil
	}
	p.examined++
	p.last = seq
	var e Entry
	if stored != nil {
		if err := codec.Unmarshal(stored, &e); err != nil {
			return false, fmt.Errorf("entry %d: %w", seq, err)
		}
	}
	if e.Seq != 0 && p.f.matches(e) {
		p.page.Entries = append(p.page.Entries, e)
	}
	return len(p.page.Entries) <= p.f.Limit && p.examined < maxExamined, nil
}

// scanIndex reads the entries the index of field = value points at. The
// index gives seqs scattered over the whole log: a page's worth of entries
// is read at once rather than one after another.
func (p *pager) scanIndex(tx projections.Tx, field, value string) error {
	var pending []uint64
	var fetchErr error
	fetch := func() bool {
		keys := make([][]byte, len(pending))
		for i, seq := range pending {
			keys[i] = entryKey(p.tenant, seq)
		}
		values, err := tx.GetMany(keys)
		p.read += len(keys)
		if err != nil {
			fetchErr = err
			return false
		}
		for i, v := range values {
			more, err := p.take(pending[i], v)
			if err != nil || !more {
				fetchErr = err
				return false
			}
		}
		pending = pending[:0]
		return true
	}
	prefix := tkey("i", p.tenant, []byte(field), []byte{0}, []byte(value), []byte{0})
	more := true
	err := tx.Scan(append(append([]byte{}, prefix...), seqBytes(p.f.After+1)...), projections.PrefixEnd(prefix), false, func(k, _ []byte) bool {
		pending = append(pending, binary.BigEndian.Uint64(k[len(prefix):]))
		if len(pending) < min(max(p.f.Limit+1-len(p.page.Entries), minFetch), maxExamined-p.examined) {
			return true
		}
		more = fetch()
		return more
	})
	if err == nil && more && len(pending) > 0 {
		fetch()
	}
	if err != nil {
		return err
	}
	return fetchErr
}

// scanLog reads the entries in seq order, within the time range when f
// has one.
func (p *pager) scanLog(tx projections.Tx) error {
	lo, hi := p.f.After+1, uint64(1<<63)
	if !p.f.From.IsZero() || !p.f.To.IsZero() {
		tlo, thi, err := seqRange(tx, p.tenant, p.f.From, p.f.To)
		if err != nil {
			return err
		}
		lo, hi = max(lo, tlo), thi
	}
	if lo > hi {
		return nil
	}
	prefix := tkey("e", p.tenant)
	var takeErr error
	err := tx.Scan(append(append([]byte{}, prefix...), seqBytes(lo)...), append(append([]byte{}, prefix...), seqBytes(hi+1)...), false, func(k, v []byte) bool {
		p.read++
		more, err := p.take(binary.BigEndian.Uint64(k[len(prefix):]), v)
		takeErr = err
		return more
	})
	if err != nil {
		return err
	}
	return takeErr
}

// finish trims the page to its limit and says where the next one starts.
func (p *pager) finish() {
	if len(p.page.Entries) > p.f.Limit {
		p.page.Entries = p.page.Entries[:p.f.Limit]
		p.page.NextCursor = p.page.Entries[p.f.Limit-1].Seq
	} else if p.examined >= maxExamined {
		p.page.NextCursor = p.last
	}
}

// seqRange finds the seqs whose entries may fall in [from, to] by the time
// index, widened by timeSlack.
func seqRange(tx projections.Tx, tenant string, from, to time.Time) (uint64, uint64, error) {
	prefix := tkey("t", tenant)
	lo, hi := uint64(0), uint64(0)
	fromKey := append(append([]byte{}, prefix...), binary.BigEndian.AppendUint64(nil, uint64(max(0, from.Add(-timeSlack).UnixMilli())))...)
	if from.IsZero() {
		fromKey = prefix
	}
	var toKey []byte
	if to.IsZero() {
		toKey = projections.PrefixEnd(prefix)
	} else {
		toKey = append(append([]byte{}, prefix...), binary.BigEndian.AppendUint64(nil, uint64(to.Add(timeSlack).UnixMilli()+1))...)
	}
	first := true
	err := tx.Scan(fromKey, toKey, false, func(k, _ []byte) bool {
		seq := binary.BigEndian.Uint64(k[len(k)-8:])
		if first || seq < lo {
			lo = seq
		}
		first = false
		hi = max(hi, seq)
		return true
	})
	if first {
		return 1, 0, err // nothing in range
	}
	return lo, hi, err
}

// VerifyResult is the outcome of recomputing a tenant's chain.
type VerifyResult struct {
	OK       bool   `json:"ok"`
	Entries  uint64 `json:"entries"`
	Head     string `json:"head"`
	Anchor   uint64 `json:"anchor_seq"`
	BrokenAt uint64 `json:"broken_seq,omitempty"`
	Problem  string `json:"problem,omitempty"`
	// The Merkle tree over the same entries (tree.go): its size and root,
	// and where its leaves start. Each entry's record hash is checked
	// against its leaf.
	TreeSize uint64 `json:"tree_size"`
	TreeRoot string `json:"tree_root,omitempty"`
	TreeBase uint64 `json:"tree_base,omitempty"`
	// TreeMigrated is how many entries were added to the tree when it was
	// built over a log written before it existed.
	TreeMigrated uint64 `json:"tree_migrated,omitempty"`
}

// Verify recomputes the tenant's chain from its anchor (the last purged
// entry, or the start) to the head and names the first broken entry.
func Verify(store projections.Store, tenant string) (VerifyResult, error) {
	var res VerifyResult
	err := store.View(Name, func(tx projections.Tx) error {
		var anchor, head link
		if _, err := getState(tx, anchorKey(tenant), &anchor); err != nil {
			return err
		}
		if _, err := getState(tx, headKey(tenant), &head); err != nil {
			return err
		}
		res.Anchor = anchor.Seq
		tree, err := loadTree(tx, tenant)
		if err != nil {
			return err
		}
		res.TreeSize, res.TreeBase, res.TreeMigrated = tree.Size, tree.Base, tree.Migrated
		prev, expect := anchor.Hash, anchor.Seq+1
		prefix := tkey("e", tenant)
		var scanErr error
		err = tx.Scan(prefix, projections.PrefixEnd(prefix), false, func(k, v []byte) bool {
			var e Entry
			if err := codec.Unmarshal(v, &e); err != nil {
				res.BrokenAt, res.Problem = binary.BigEndian.Uint64(k[len(prefix):]), "entry does not decode: "+err.Error()
				return false
			}
			seq := binary.BigEndian.Uint64(k[len(prefix):])
			switch {
			case seq != expect || e.Seq != seq:
				res.BrokenAt, res.Problem = expect, fmt.Sprintf("entry %d missing or renumbered (found %d)", expect, e.Seq)
			case e.PrevHash != prev:
				res.BrokenAt, res.Problem = seq, "prev_hash does not match the previous entry's hash"
			case ComputeHash(prev, e) != e.Hash:
				res.BrokenAt, res.Problem = seq, "hash does not match the entry's contents"
			case e.Content != nil && sha(*e.Content) != e.ContentSHA256:
				res.BrokenAt, res.Problem = seq, "content does not match content_sha256"
			case tree.Born && seq <= tree.Base+tree.Size:
				if problem := leafProblem(tx, tenant, tree, e); problem != "" {
					res.BrokenAt, res.Problem = seq, problem
				}
			}
			if res.BrokenAt != 0 {
				return false
			}
			res.Entries++
			prev, expect = e.Hash, seq+1
			return true
		})
		if err == nil {
			err = scanErr
		}
		if err != nil {
			return err
		}
		if res.BrokenAt == 0 && (expect-1 != max(head.Seq, anchor.Seq) || prev != head.Hash && head.Seq != 0) {
			res.BrokenAt, res.Problem = expect, fmt.Sprintf("chain ends at %d but the head is %d", expect-1, head.Seq)
		}
		if last := max(head.Seq, anchor.Seq); res.BrokenAt == 0 && tree.Born && tree.Base+tree.Size != last {
			res.BrokenAt, res.Problem = min(tree.Base+tree.Size, last)+1, fmt.Sprintf("the tree has %d leaves from entry %d but the chain ends at %d", tree.Size, tree.Base+1, last)
		}
		if tree.Born && res.BrokenAt == 0 {
			root, err := tlog.TreeHash(int64(tree.Size), hashReader{tx, tenant})
			if err != nil {
				res.BrokenAt, res.Problem = tree.Base+1, "tree hashes: "+err.Error()
			} else {
				res.TreeRoot = root.String()
			}
		}
		res.OK = res.BrokenAt == 0
		res.Head = prev
		return nil
	})
	if err != nil {
		return VerifyResult{}, fmt.Errorf("verify %s: %w", tenant, err)
	}
	return res, nil
}

// leafProblem compares e's record hash with its leaf in the tree.
func leafProblem(tx projections.Tx, tenant string, tree treeState, e Entry) string {
	leaf, err := hashReader{tx, tenant}.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(e.Seq-tree.Base-1))})
	if err != nil {
		return "tree leaf: " + err.Error()
	}
	if leaf[0] != RecordHash(e) {
		return "record hash does not match the tree's leaf"
	}
	return ""
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// CSVHeader is the column order of CSV exports: every field an entry's
// hashes cover (position and event_id last, added with the Merkle tree so
// that a CSV row can be checked against its record hash; see ReadCSV).
var CSVHeader = []string{"seq", "at", "action", "actor", "actor_role", "platform", "msg_id", "conversation_id", "outcome", "reason", "reason_text", "content", "content_sha256", "detail", "prev_hash", "hash", "position", "event_id"}

// NewCSV writes the header and returns a writer for entries. Cells a
// spreadsheet would run as a formula are neutralised with a leading
// apostrophe; quoting follows RFC 4180, every byte of a cell kept
// (csvcodec.go).
func NewCSV(w io.Writer) (*CSVWriter, error) {
	cw := csvRecords{bufio.NewWriter(w)}
	if err := cw.write(CSVHeader); err != nil {
		return nil, err
	}
	return &CSVWriter{w: cw}, nil
}

// CSVWriter writes entries as CSV rows.
type CSVWriter struct{ w csvRecords }

// Write writes one entry.
func (c *CSVWriter) Write(e Entry) error {
	content := ""
	if e.Content != nil {
		content = *e.Content
	}
	row := []string{strconv.FormatUint(e.Seq, 10), e.At.String(), e.Action, e.Actor, e.ActorRole, e.Platform, e.MsgID,
		e.ConversationID, e.Outcome, e.Reason, e.ReasonText, content, e.ContentSHA256, e.Detail, e.PrevHash, e.Hash,
		strconv.FormatUint(e.Position, 10), e.EventID}
	for i := range row {
		row[i] = Neutralise(row[i])
	}
	return c.w.write(row)
}

// Flush flushes buffered rows.
func (c *CSVWriter) Flush() error { return c.w.w.Flush() }

// Neutralise makes a cell inert in spreadsheets: one starting with = + - @
// or a tab or carriage return gets a leading apostrophe. So that the
// apostrophe can be taken off again (Unneutralise: a verified export
// checks each cell as it was hashed), a cell that starts with an
// apostrophe gets one too.
func Neutralise(s string) string {
	if s != "" && bytes.IndexByte([]byte("=+-@\t\r'"), s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// Unneutralise is the value Neutralise wrote cell for.
func Unneutralise(cell string) string {
	if len(cell) > 1 && cell[0] == '\'' && bytes.IndexByte([]byte("=+-@\t\r'"), cell[1]) >= 0 {
		return cell[1:]
	}
	return cell
}
