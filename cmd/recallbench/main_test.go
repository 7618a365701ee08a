package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/vfs"

	"github.com/recallledger/recall/projections/catalog"
)

// TestInProcessScenariosPrintResults runs the in-process scenarios at a
// tiny size and checks each prints well-formed result lines. It asserts
// the shape of the output, never a speed, so it measures nothing either:
// the event stores and the raw baseline live on an in-memory file system
// (no fsync), and audit-query's second pass does not wait for pebble's
// compactions.
func TestInProcessScenariosPrintResults(t *testing.T) {
	var out bytes.Buffer
	c, err := parseConfig([]string{"--scenario", "append,pipeline,rebuild,audit-query,memory,lag", "--appends", "300", "--events", "500", "--duration", "300ms", "--queries", "50", "--settle-timeout", "0"}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c.fs = vfs.NewMem()
	if err := c.runScenarios(context.Background()); err != nil {
		t.Fatal(err)
	}
	auditPasses := 0
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		counts[r.Scenario]++
		if r.N <= 0 {
			t.Errorf("%s: n = %d", r.Scenario, r.N)
		}
		switch r.Scenario {
		case "append":
			if r.EventsPerS <= 0 || r.BaselinePerS <= 0 || r.Concurrency == 0 || r.P99Ms < r.P50Ms {
				t.Errorf("append line %q", line)
			}
		case "pipeline":
			if r.EventsPerS <= 0 || r.CPUPerRequestUs <= 0 || !strings.Contains(r.Note, "bytes per event") {
				t.Errorf("pipeline line %q", line)
			}
		case "rebuild":
			if r.EventsPerS <= 0 || r.Note == "" {
				t.Errorf("rebuild line %q", line)
			}
		case "audit-query":
			// One line right after the rebuild, one once compactions settle.
			if r.P50Ms <= 0 || r.P99Ms < r.P50Ms || !strings.Contains(r.Note, "pass") {
				t.Errorf("audit-query line %q", line)
			}
			if auditPasses++; auditPasses == 2 && !strings.Contains(r.Note, "settled") && !strings.Contains(r.Note, "not waited for") {
				t.Errorf("the second audit-query pass does not say whether it waited for compactions: %q", line)
			}
		case "memory":
			if r.RSSMB <= 0 {
				t.Errorf("memory line %q", line)
			}
		}
	}
	want := map[string]int{"append": 3, "rebuild": len(catalog.Projections()), "audit-query": 2, "memory": 3, "lag": 1, "pipeline": 1}
	for s, n := range want {
		if counts[s] != n {
			t.Errorf("%s: %d lines, want %d\n%s", s, counts[s], n, out.String())
		}
	}
	if err := run(context.Background(), []string{"--scenario", "nope"}, io.Discard, io.Discard); err == nil {
		t.Error("an unknown scenario was accepted")
	}
	var help bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &help, io.Discard); err != nil || !strings.Contains(help.String(), "-settle-timeout") {
		t.Errorf("--help: %v %q", err, help.String())
	}
}
