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

	json "github.com/segmentio/encoding/json"
	"golang.org/x/mod/sumdb/tlog"

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
	page := Page{Entries: []Entry{}}
	err := store.View(Name, func(tx projections.Tx) error {
		var field, value string
		for _, c := range [][2]string{{"msg_id", f.MsgID}, {"conversation_id", f.ConversationID}, {"actor", f.Actor}, {"action", f.Action}, {"outcome", f.Outcome}} {
			if c[1] != "" {
				field, value = c[0], c[1]
				break
			}
		}
		examined := 0
		var last uint64
		// take looks at one entry (nil when purged since it was indexed) and
		// reports whether the page wants more.
		take := func(seq uint64, stored []byte) (bool, error) {
			if f.UpTo != 0 && seq > f.UpTo {
				return false, nil
			}
			examined++
			last = seq
			var e Entry
			if stored != nil {
				if err := json.Unmarshal(stored, &e); err != nil {
					return false, fmt.Errorf("entry %d: %w", seq, err)
				}
			}
			if e.Seq != 0 && f.matches(e) {
				page.Entries = append(page.Entries, e)
			}
			return len(page.Entries) <= f.Limit && examined < maxExamined, nil
		}
		var scanErr error
		var err error
		if field != "" {
			// The index gives seqs scattered over the whole log: read a
			// page's worth of entries at once rather than one after another.
			var pending []uint64
			fetch := func() bool {
				keys := make([][]byte, len(pending))
				for i, seq := range pending {
					keys[i] = entryKey(tenant, seq)
				}
				values, err := tx.GetMany(keys)
				if err != nil {
					scanErr = err
					return false
				}
				for i, v := range values {
					more, err := take(pending[i], v)
					if err != nil || !more {
						scanErr = err
						return false
					}
				}
				pending = pending[:0]
				return true
			}
			prefix := tkey("i", tenant, []byte(field), []byte{0}, []byte(value), []byte{0})
			more := true
			err = tx.Scan(append(append([]byte{}, prefix...), seqBytes(f.After+1)...), projections.PrefixEnd(prefix), false, func(k, _ []byte) bool {
				pending = append(pending, binary.BigEndian.Uint64(k[len(prefix):]))
				if len(pending) < min(max(f.Limit+1-len(page.Entries), minFetch), maxExamined-examined) {
					return true
				}
				more = fetch()
				return more
			})
			if err == nil && more && len(pending) > 0 {
				fetch()
			}
		} else {
			lo, hi := f.After+1, uint64(1<<63)
			if !f.From.IsZero() || !f.To.IsZero() {
				var tlo, thi uint64
				if tlo, thi, err = seqRange(tx, tenant, f.From, f.To); err != nil {
					return err
				}
				lo, hi = max(lo, tlo), thi
			}
			prefix := tkey("e", tenant)
			if lo <= hi {
				err = tx.Scan(append(append([]byte{}, prefix...), seqBytes(lo)...), append(append([]byte{}, prefix...), seqBytes(hi+1)...), false, func(k, v []byte) bool {
					more, err := take(binary.BigEndian.Uint64(k[len(prefix):]), v)
					scanErr = err
					return more
				})
			}
		}
		if err == nil {
			err = scanErr
		}
		if len(page.Entries) > f.Limit {
			page.Entries = page.Entries[:f.Limit]
			page.NextCursor = page.Entries[f.Limit-1].Seq
		} else if examined >= maxExamined {
			page.NextCursor = last
		}
		return err
	})
	if err != nil {
		return Page{}, fmt.Errorf("audit query %s: %w", tenant, err)
	}
	return page, nil
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
			if err := json.Unmarshal(v, &e); err != nil {
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
