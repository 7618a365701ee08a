package operators

import (
	"context"
	"testing"
)

// BenchmarkPasswordVerify is what one sign-in costs with the production
// parameters (DefaultParams): the figure SECURITY.md states.
func BenchmarkPasswordVerify(b *testing.B) {
	h, err := NewHasher(DefaultParams, 1)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, enc, "correct horse battery"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
