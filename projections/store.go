package projections

import "github.com/recallledger/recall/domain/codec"

// Tx is a read-model transaction: reads see the transaction's own writes;
// writes land together or not at all. Keys are the projection's own: the
// runner keeps each projection in a namespace of its own.
type Tx interface {
	// Get returns a copy of the value, or nil when the key is absent.
	Get(key []byte) ([]byte, error)
	// GetMany returns copies of the values of keys, in order, nil for the
	// absent ones. A store may read them concurrently, so a page of
	// entries scattered across a large store costs about one read's
	// latency rather than the sum of them.
	GetMany(keys [][]byte) ([][]byte, error)
	Set(key, value []byte) error
	Delete(key []byte) error
	// Scan calls fn for each key in [lower, upper) in order (reverse: from
	// the end) until fn returns false. The slices are valid only during fn.
	Scan(lower, upper []byte, reverse bool, fn func(key, value []byte) bool) error
}

// Store is durable storage for read models.
type Store interface {
	// Update runs fn in a write transaction committed when fn returns nil.
	// Updates and Drops of one namespace are serial: a transaction never
	// interleaves with another writer of its namespace (a projection's
	// runner and the audit retention purge both write the audit log's),
	// so fn must not update or drop its own namespace.
	Update(namespace string, fn func(Tx) error) error
	// View runs fn in a read-only transaction over a consistent snapshot.
	View(namespace string, fn func(Tx) error) error
	// Drop deletes every key of the namespace but those under the keep
	// prefixes.
	Drop(namespace string, keep ...[]byte) error
}

// PrefixEnd returns the smallest key greater than every key that starts
// with prefix: the upper bound of a prefix scan.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte{}, prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// GetJSON decodes the value at key into v and reports whether it exists.
func GetJSON(tx Tx, key []byte, v any) (bool, error) {
	b, err := tx.Get(key)
	if err != nil || b == nil {
		return false, err
	}
	return true, codec.Unmarshal(b, v)
}

// SetJSON stores v, encoded as JSON, at key.
func SetJSON(tx Tx, key []byte, v any) error {
	b, err := codec.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Set(key, b)
}
