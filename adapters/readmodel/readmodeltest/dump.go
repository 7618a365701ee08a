// Package readmodeltest helps tests of what reads the read models: the
// stores of a data directory with runners the test feeds (Stores), and
// read models compared byte for byte (Dump). Only tests import it.
package readmodeltest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/catalog"
)

// Dump is the bytes of the named read models in s (every one in the
// catalog when none is named), a line a key in key order:
// `name "key"="value"`. Two dumps are equal when the read models are
// byte for byte.
func Dump(t testing.TB, s projections.Store, names ...string) string {
	t.Helper()
	if len(names) == 0 {
		for _, p := range catalog.Projections() {
			names = append(names, p.Name())
		}
	}
	var b strings.Builder
	for _, name := range names {
		err := s.View(name, func(tx projections.Tx) error {
			return tx.Scan(nil, nil, false, func(k, v []byte) bool {
				fmt.Fprintf(&b, "%s %q=%q\n", name, k, v)
				return true
			})
		})
		if err != nil {
			t.Fatalf("dump %s: %v", name, err)
		}
	}
	return b.String()
}
