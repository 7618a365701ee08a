package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// FuzzArguments runs recallctl with arbitrary arguments against an empty
// data directory: it must never panic, and must fail cleanly on what it
// does not understand.
func FuzzArguments(f *testing.F) {
	for _, s := range []string{
		"tenant create a/b", "tenant rotate a/b admin", "export events --from-position 3",
		"report recalls --tenant a/b --group-by hour --tz Asia/Shanghai", "audit verify --tenant a/b",
		"projections rebuild nope", "--data", "tenant create ../../etc", "export events --from-position -1",
		"audit key", "audit key rotate", "audit verify-export x.csv --key nope", "audit witness --state s --key k",
		"audit verify-inclusion --key a+b+c", "audit verify-consistency --old x --key y",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		for i, a := range args {
			if a == "--data" || a == "--server" || strings.HasPrefix(a, "--data=") || strings.HasPrefix(a, "--server=") {
				args = args[:i] // keep the fuzzer in its own directory, off the network
				break
			}
		}
		_ = run(context.Background(), append([]string{"--data", dir}, args...), func(string) string { return "" }, io.Discard, io.Discard)
	})
}
