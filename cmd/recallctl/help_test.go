package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Every way a newcomer asks recallctl for help works: `recallctl --help`,
// a group (`recallctl audit --help`) and every command (`recallctl CMD
// --help`) print their usage to stdout and succeed (main exits 0).
func TestEveryCommandAnswersHelp(t *testing.T) {
	type ask struct {
		args []string
		want []string // on stdout
	}
	asks := []ask{
		{[]string{"--help"}, []string{"usage:", "tenant create", "audit verify", "report recalls", "--data", "--server", "COMMAND --help"}},
		{[]string{"-h"}, []string{"usage:", "projections rebuild"}},
		{[]string{"help"}, []string{"usage:", "export events"}},
		{[]string{"--data", "x", "--help"}, []string{"usage:"}},
		{[]string{"audit", "--help"}, []string{"audit verify", "audit query", "audit export"}},
		{[]string{"tenant", "-h"}, []string{"tenant create", "tenant rotate"}},
	}
	groups := map[string]bool{}
	for _, c := range commands {
		group, _, _ := strings.Cut(c.name, " ")
		groups[group] = true
		asks = append(asks,
			ask{append(strings.Fields(c.name), "--help"), []string{"usage: recallctl", c.name, c.summary[1:]}},
			ask{append(strings.Fields(c.name), "-h"), []string{c.name}})
	}
	for group := range groups {
		asks = append(asks, ask{[]string{group, "--help"}, []string{"recallctl", group}})
	}
	for _, a := range asks {
		t.Run(strings.Join(a.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), a.args, func(string) string { return "" }, &stdout, &stderr)
			if err != nil {
				t.Fatalf("run: %v (main would exit 2)\nstderr: %s", err, stderr.String())
			}
			for _, w := range a.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("help lacks %q:\n%s", w, stdout.String())
				}
			}
			if stderr.Len() > 0 {
				t.Errorf("help wrote to stderr: %s", stderr.String())
			}
		})
	}
	if len(commands) < 8 {
		t.Fatalf("%d commands documented", len(commands))
	}
}

// Asking for nothing, or for what does not exist, stays an error with the
// usage on stderr.
func TestAMissingOrUnknownCommandIsAnErrorWithTheUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"audit"}, {"audit", "delete"}, {"frobnicate", "now"}, {"--nope"}, {"tenant", "create"}, {"tenant", "create", "a/b", "c/d"}} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), append([]string{"--data", t.TempDir()}, args...), func(string) string { return "" }, &stdout, &stderr); err == nil {
			t.Errorf("%q: no error", args)
		}
		if !strings.Contains(stderr.String(), "usage:") && !strings.Contains(stderr.String(), "Usage") {
			t.Errorf("%q: no usage on stderr: %q", args, stderr.String())
		}
	}
}
