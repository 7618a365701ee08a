package projections

// KeptFromTheStart tells whether a namespace has kept something a later
// version of its projection began to keep (an index, running totals) for
// every event it applied, so its reads may rely on it. It is decided once,
// on the first event the namespace sees, and recorded at mark: a
// namespace that held nothing in [lower, upper) then (new, or dropped for
// a rebuild) keeps it from its start ("y"); one that already held data
// was written before it ("n") and stays so until a rebuild. A projection
// calls it from Apply, for every event, so a rebuild and the live
// namespace record the same.
func KeptFromTheStart(tx Tx, mark, lower, upper []byte) (bool, error) {
	v, err := tx.Get(mark)
	if err != nil || v != nil {
		return string(v) == "y", err
	}
	empty := true
	if err := tx.Scan(lower, upper, false, func(_, _ []byte) bool { empty = false; return false }); err != nil {
		return false, err
	}
	v = []byte("n")
	if empty {
		v = []byte("y")
	}
	return empty, tx.Set(mark, v)
}

// Kept reads what KeptFromTheStart decided, for a read-only view: false
// until it was decided.
func Kept(tx Tx, mark []byte) (bool, error) {
	v, err := tx.Get(mark)
	return string(v) == "y", err
}
