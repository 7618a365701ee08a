package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// A second run against the same recalld must record new sends: its
// client_msg_ids are its own.
func TestEachRunSendsClientMsgIDsOfItsOwn(t *testing.T) {
	a, err := parseConfig(nil, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseConfig(nil, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if a.runID == b.runID {
		t.Fatalf("two runs share the id %q", a.runID)
	}
	first, second := sendBody(a.runID, 1, "chat"), sendBody(b.runID, 1, "chat")
	var fa, fb struct {
		ClientMsgID string `json:"client_msg_id"`
	}
	if err := json.Unmarshal([]byte(first), &fa); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(second), &fb); err != nil {
		t.Fatal(err)
	}
	if fa.ClientMsgID == fb.ClientMsgID || fa.ClientMsgID == "" {
		t.Fatalf("client_msg_id %q in both runs", fa.ClientMsgID)
	}
}

// The tenants scenario prints both points and their ratio. It asserts
// the shape of the lines, never a speed.
func TestTenantsScenarioPrintsBothPointsAndTheirRatio(t *testing.T) {
	var out bytes.Buffer
	c, err := parseConfig(nil, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := registryBench(context.Background(), c, [2]int{20, 60}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		seen[r.Scenario]++
		if r.Scenario == "tenants-ratio" && (r.Ratio <= 0 || !strings.Contains(r.Note, "target")) {
			t.Errorf("ratio line %q", line)
		}
	}
	if seen["tenants"] != 2 || seen["tenants-ratio"] != 1 || seen["tenants-changes"] != 1 || seen["operators"] != 2 || seen["operators-ratio"] != 1 {
		t.Fatalf("lines %v:\n%s", seen, out.String())
	}
}
