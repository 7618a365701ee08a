package auditsign

import (
	"fmt"

	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
	"github.com/recallledger/recall/projections/auditlog/auditproof"
)

// VerifyStored checks each signed checkpoint kept for the tenant: signed by
// a trusted key, and still the root of the tree at its size. A checkpoint
// the tree no longer matches means entries it covered were rewritten
// after it was signed; the error names the first such checkpoint and the
// entries it covers. It returns how many checkpoints it checked.
func VerifyStored(rm projections.Store, keys auditproof.Keys, tenant string) (int, error) {
	var stored []Signed
	if err := All(rm, tenant, func(s Signed) error { stored = append(stored, s); return nil }); err != nil {
		return 0, err
	}
	tree, err := auditlog.Tree(rm, tenant)
	if err != nil {
		return 0, err
	}
	goodUpTo := uint64(0) // the largest size whose checkpoint matched
	for i, s := range stored {
		c, err := auditproof.OpenCheckpoint(s.Checkpoint, keys, tenant)
		if err != nil {
			return i, fmt.Errorf("stored checkpoint of size %d: %w", s.Size, err)
		}
		if c.Size > tree.Size {
			return i, &auditproof.ProblemError{Seq: tree.Base + tree.Size + 1, Problem: fmt.Sprintf("the tree has %d leaves, fewer than the signed checkpoint of size %d: entries were removed", tree.Size, c.Size)}
		}
		root, err := auditlog.RootAt(rm, tenant, c.Size)
		if err != nil {
			return i, err
		}
		if root != c.Root {
			return i, &auditproof.ProblemError{Seq: tree.Base + goodUpTo + 1, Problem: fmt.Sprintf("the tree at size %d no longer matches its signed checkpoint: an entry from seq %d to %d was rewritten after it was signed", c.Size, tree.Base+goodUpTo+1, tree.Base+c.Size)}
		}
		goodUpTo = c.Size
	}
	return len(stored), nil
}
