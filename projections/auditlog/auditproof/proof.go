package auditproof

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/recallledger/recall/projections/auditlog"
)

// InclusionAnswer is GET …/audit/proof/inclusion's body: an entry, its
// leaf and the proof that the leaf is in the signed tree of TreeSize.
type InclusionAnswer struct {
	Entry      auditlog.Entry `json:"entry"`
	LeafIndex  uint64         `json:"leaf_index"`
	RecordHash tlog.Hash      `json:"record_hash"`
	TreeSize   uint64         `json:"tree_size"`
	Proof      []tlog.Hash    `json:"proof"`
	Checkpoint string         `json:"checkpoint"`
}

// ConsistencyAnswer is GET …/audit/proof/consistency's body: the proof that
// the signed tree of size From is a prefix of the signed tree of size To.
type ConsistencyAnswer struct {
	From           uint64      `json:"from"`
	To             uint64      `json:"to"`
	Proof          []tlog.Hash `json:"proof"`
	FromCheckpoint string      `json:"from_checkpoint"`
	ToCheckpoint   string      `json:"to_checkpoint"`
}

// ProblemError is a check that failed, naming the first bad entry (Seq,
// 0 when no single entry is to blame) and, for exports, the file's row.
type ProblemError struct {
	Seq     uint64
	Row     int
	Problem string
}

func (e *ProblemError) Error() string {
	switch {
	case e.Row > 0 && e.Seq > 0:
		return fmt.Sprintf("row %d (seq %d): %s", e.Row, e.Seq, e.Problem)
	case e.Row > 0:
		return fmt.Sprintf("row %d: %s", e.Row, e.Problem)
	case e.Seq > 0:
		return fmt.Sprintf("seq %d: %s", e.Seq, e.Problem)
	}
	return e.Problem
}

// entryProblem checks what an entry says of itself: kept content matches
// its content_sha256.
func entryProblem(e auditlog.Entry) string {
	if e.Content != nil {
		sum := sha256.Sum256([]byte(*e.Content))
		if hex.EncodeToString(sum[:]) != e.ContentSHA256 {
			return "content does not match content_sha256"
		}
	}
	return ""
}

// Verify checks the answer with nothing but the trusted keys: the entry's
// record hash recomputed from its canonical encoding, its content against
// content_sha256, the checkpoint's signature and tenant, and the proof by
// tlog.CheckRecord. It returns the checkpoint the entry is proven in.
func (a InclusionAnswer) Verify(keys Keys, tenant string) (Checkpoint, error) {
	c, err := OpenCheckpoint(a.Checkpoint, keys, tenant)
	if err != nil {
		return Checkpoint{}, err
	}
	seq := a.Entry.Seq
	if c.Size != a.TreeSize {
		return c, &ProblemError{Seq: seq, Problem: fmt.Sprintf("the proof is for size %d but the checkpoint is of size %d", a.TreeSize, c.Size)}
	}
	if p := entryProblem(a.Entry); p != "" {
		return c, &ProblemError{Seq: seq, Problem: p}
	}
	rh := auditlog.RecordHash(a.Entry)
	if rh != a.RecordHash {
		return c, &ProblemError{Seq: seq, Problem: "the entry does not match its record hash (an altered field)"}
	}
	if a.LeafIndex >= c.Size {
		return c, &ProblemError{Seq: seq, Problem: fmt.Sprintf("leaf %d is outside the tree of size %d", a.LeafIndex, c.Size)}
	}
	if seq <= a.LeafIndex {
		return c, &ProblemError{Seq: seq, Problem: fmt.Sprintf("entry %d cannot be leaf %d", seq, a.LeafIndex)}
	}
	if err := tlog.CheckRecord(a.Proof, int64(c.Size), c.Root, int64(a.LeafIndex), rh); err != nil {
		return c, &ProblemError{Seq: seq, Problem: fmt.Sprintf("not in the signed tree of size %d: %v", c.Size, err)}
	}
	return c, nil
}

// Verify checks both checkpoints' signatures (same origin) and the proof
// by tlog.CheckTree. It returns the two checkpoints.
func (a ConsistencyAnswer) Verify(keys Keys, tenant string) (Checkpoint, Checkpoint, error) {
	from, err := OpenCheckpoint(a.FromCheckpoint, keys, tenant)
	if err != nil {
		return Checkpoint{}, Checkpoint{}, fmt.Errorf("from: %w", err)
	}
	to, err := OpenCheckpoint(a.ToCheckpoint, keys, tenant)
	if err != nil {
		return from, Checkpoint{}, fmt.Errorf("to: %w", err)
	}
	return from, to, CheckConsistency(from, to, a.Proof)
}

// CheckConsistency checks that to extends from: the same log, no smaller,
// and proof shows from's tree is a prefix of to's.
func CheckConsistency(from, to Checkpoint, proof []tlog.Hash) error {
	switch {
	case from.Origin != to.Origin:
		return fmt.Errorf("the checkpoints are of different logs: %q and %q", from.Origin, to.Origin)
	case from.Size > to.Size:
		return &ProblemError{Seq: to.Size + 1, Problem: fmt.Sprintf("the checkpoint of size %d is older than the one of size %d already seen: taken as current it would hide leaves %d to %d", to.Size, from.Size, to.Size+1, from.Size)}
	case from.Size == to.Size && from.Root != to.Root:
		return fmt.Errorf("two different trees of size %d: the log was rewritten (a fork)", from.Size)
	case from.Size == to.Size:
		return nil
	case from.Size == 0:
		return nil
	}
	if err := tlog.CheckTree(proof, int64(to.Size), to.Root, int64(from.Size), from.Root); err != nil {
		return fmt.Errorf("the tree of size %d does not extend the tree of size %d: the log's first %d entries were rewritten (%v)", to.Size, from.Size, from.Size, err)
	}
	return nil
}
