package auditlog

import "github.com/recallledger/recall/projections"

// The recall attempts' own indexes. The console's recalls page asks for
// one actor's recall attempts (or one conversation's): the actor's index
// alone hands out every send and read of that actor as well, of which
// about one in seven is an attempt, and each of them is read from
// wherever it lies in the log before the filter drops it (a page over a
// million events read ~350 entries for its 50: p99 145 ms). So a recall
// attempt is indexed a second time by its actor and its conversation
// among the attempts alone (fields "recall+actor" and
// "recall+conversation_id"), and such a page reads its own entries and
// no others. They are kept like every index, entry by entry, and purged
// with their entries, so a rebuild writes the same bytes as the live log.
//
// A read model written before these indexes existed has attempts without
// them: it is marked as such on its next event, and its queries use the
// one-field indexes (the same answers, slower) until `recallctl
// projections rebuild audit_log` writes it again with them.

// recallIndexField is the index of field among the recall attempts.
func recallIndexField(field string) string { return ActionRecall + "+" + field }

// recallIndexesKey marks a namespace whose recall attempts all have their
// own indexes ("y"), or one written before them ("n").
var recallIndexesKey = []byte("x\x01recall-indexes")

// recallIndexesKept reports whether the namespace has kept the recall
// indexes from its first event; the first call decides it
// (projections.KeptFromTheStart: entries are under "e").
func recallIndexesKept(tx projections.Tx) (bool, error) {
	return projections.KeptFromTheStart(tx, recallIndexesKey, []byte("e\x00"), []byte("e\x01"))
}
