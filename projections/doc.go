// Package projections turns the event log into read models. A Projection
// folds events into keys of a read-model Store; a Runner applies each event
// exactly once by committing the projection's checkpoint (the last
// position applied) in the same transaction as its updates, so at-least-once
// delivery and restarts never double-count, and a projection can be dropped
// and rebuilt from position 0 into the same bytes.
//
// Projections read time from events, never from a clock, and encode
// nothing whose order depends on map iteration: that is what makes a
// rebuild byte-identical.
package projections
