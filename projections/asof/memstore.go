package asof

import (
	"bytes"
	"slices"
	"sort"

	"github.com/recallledger/recall/projections"
)

// memStore is a read-model store in memory, for one replay: one
// namespace's keys in a map, sorted when scanned. Writes apply at once
// (a replay has one writer and nothing to roll back: a failed Apply fails
// the whole request).
type memStore struct {
	kv map[string][]byte
}

func newMemStore() *memStore { return &memStore{kv: map[string][]byte{}} }

func (m *memStore) Update(_ string, fn func(projections.Tx) error) error { return fn(memTx{m}) }
func (m *memStore) View(_ string, fn func(projections.Tx) error) error   { return fn(memTx{m}) }
func (m *memStore) Drop(string, ...[]byte) error {
	clear(m.kv)
	return nil
}

type memTx struct{ m *memStore }

func (t memTx) Get(k []byte) ([]byte, error) {
	v, ok := t.m.kv[string(k)]
	if !ok {
		return nil, nil
	}
	return slices.Clone(v), nil
}

func (t memTx) GetMany(keys [][]byte) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i], _ = t.Get(k)
	}
	return out, nil
}

func (t memTx) Set(k, v []byte) error {
	t.m.kv[string(k)] = append([]byte{}, v...)
	return nil
}

func (t memTx) Delete(k []byte) error {
	delete(t.m.kv, string(k))
	return nil
}

func (t memTx) Scan(lower, upper []byte, reverse bool, fn func(k, v []byte) bool) error {
	var keys []string
	for k := range t.m.kv {
		if bytes.Compare([]byte(k), lower) >= 0 && (upper == nil || bytes.Compare([]byte(k), upper) < 0) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if reverse {
		slices.Reverse(keys)
	}
	for _, k := range keys {
		if !fn([]byte(k), t.m.kv[k]) {
			return nil
		}
	}
	return nil
}
