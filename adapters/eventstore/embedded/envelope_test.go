package embedded

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/recallledger/recall/domain"
)

func TestEnvelopeEncodesAsJSONMarshal(t *testing.T) {
	tn, _ := domain.ParseTenant("org/app")
	for name, content := range map[string]string{
		"plain":   "hello",
		"escapes": "quote \" backslash \\ <tag> & 撤回 \u2028 \t",
	} {
		e := domain.NewEvent("0b4c6c1e-1d1f-4a43-9d55-5a7e2a1d0001", tn, time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC), domain.MessageSent{MsgID: "m1", From: "a", To: "b", Content: content})
		env, err := encodeEnvelope(e, "message-org/app.m1<&>")
		if err != nil {
			t.Fatal(err)
		}
		got := env.appendTo(nil, 41, 1234567)
		e.Stream, e.StreamVersion, e.Position = "message-org/app.m1<&>", 41, 1234567
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

func TestEnvelopeRefusesEventsItCouldNotDecodeAgain(t *testing.T) {
	tn, _ := domain.ParseTenant("a/b")
	for name, e := range map[string]domain.Event{
		"no payload":            {ID: "x", Tenant: "a/b"},
		"a payload v1 lacks":    domain.NewEvent("x", tn, time.Unix(0, 0), foreign{}),
		"an unencodable policy": domain.NewEvent("x", tn, time.Unix(0, 0), domain.TenantPolicySet{Changes: []domain.PolicyFieldChange{{Field: "f", Old: []byte("{")}}}),
	} {
		if _, err := encodeEnvelope(e, "s"); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}

type foreign struct{}

func (foreign) EventType() string { return "Foreign" }
