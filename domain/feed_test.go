package domain

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sentEvent(t *testing.T, position uint64) Event {
	t.Helper()
	return goldenEvents(t)[TypeMessageSent].withPosition(position)
}

func (e Event) withPosition(p uint64) Event { e.Position = p; return e }

func decodeSent(t *testing.T, e Event) MessageSent {
	t.Helper()
	s, ok := e.Data.(MessageSent)
	if !ok {
		t.Fatalf("%s is no send", e.Type())
	}
	return s
}

// What each feed_content lets out of a MessageSent, exactly.
func TestRedactForFeedWithholdsWhatTheModeSays(t *testing.T) {
	orig := sentEvent(t, 101)
	want := decodeSent(t, orig)
	cases := []struct {
		mode                    FeedContent
		content, sha, redaction string
	}{
		{FeedPlaintext, want.Content, want.ContentSHA256, ""},
		{FeedSHA256, "", want.ContentSHA256, "sha256"},
		{FeedNone, "", "", "none"},
	}
	for _, c := range cases {
		t.Run(string(c.mode), func(t *testing.T) {
			got, redacted := RedactForFeed(orig, c.mode)
			if redacted != (c.mode != FeedPlaintext) {
				t.Fatalf("redacted %v under %s", redacted, c.mode)
			}
			s := decodeSent(t, got)
			if s.Content != c.content || s.ContentSHA256 != c.sha || string(s.ContentRedacted) != c.redaction {
				t.Fatalf("content %q sha %q redacted %q; want %q %q %q", s.Content, s.ContentSHA256, s.ContentRedacted, c.content, c.sha, c.redaction)
			}
			// everything else is as recorded
			s.Content, s.ContentSHA256, s.ContentRedacted = want.Content, want.ContentSHA256, ""
			if s != want {
				t.Fatalf("other fields changed: %+v, want %+v", s, want)
			}
			g, o := got, orig
			g.Data, o.Data = nil, nil
			if g.ID != o.ID || g.Position != o.Position || g.Stream != o.Stream || g.OccurredAt != o.OccurredAt || g.Type() != o.Type() {
				t.Fatalf("envelope changed: %+v", g)
			}
			if raw, _ := got.MarshalJSON(); c.mode != FeedPlaintext && bytes.Contains(raw, []byte("bring")) {
				t.Fatalf("content still in the event: %s", raw)
			}
		})
	}
	// only MessageSent carries content: every other event goes out as it is
	for typ, e := range goldenEvents(t) {
		if typ == TypeMessageSent {
			continue
		}
		got, redacted := RedactForFeed(e, FeedNone)
		if redacted || !reflect.DeepEqual(got, e) {
			t.Errorf("%s changed under none: %+v (redacted %v)", typ, got, redacted)
		}
	}
}

// The mode for an event is the stricter of the policy in force when it
// was recorded and the current one.
func TestFeedPolicyTakesTheStricterOfThenAndNow(t *testing.T) {
	tn, _ := ParseTenant("acme/chat")
	set := func(pos uint64, mode FeedContent) Event {
		p := DefaultPolicy()
		p.FeedContent = mode
		e := NewEvent("0b4c6c1e-1d1f-4a43-9d55-5a7e2a1d0099", tn, time.Unix(0, 0), p.Next(p, "admin"))
		e.Position = pos
		return e
	}
	cases := []struct {
		name    string
		history []Event
		want    map[uint64]FeedContent // position -> mode
	}{
		{"never set: plaintext", nil, map[uint64]FeedContent{1: FeedPlaintext}},
		{"turned to none: all history withheld", []Event{set(10, FeedNone)},
			map[uint64]FeedContent{5: FeedNone, 11: FeedNone}},
		{"none, then back to plaintext: what was sent under none stays withheld",
			[]Event{set(10, FeedNone), set(20, FeedPlaintext)},
			map[uint64]FeedContent{5: FeedPlaintext, 15: FeedNone, 25: FeedPlaintext}},
		{"sha256 then none then sha256", []Event{set(10, FeedSHA256), set(20, FeedNone), set(30, FeedSHA256)},
			map[uint64]FeedContent{5: FeedSHA256, 15: FeedSHA256, 25: FeedNone, 35: FeedSHA256}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := NewFeedPolicy(c.history)
			for pos, want := range c.want {
				if got := f.At(pos); got != want {
					t.Errorf("position %d: %s, want %s", pos, got, want)
				}
			}
		})
	}
}

func TestPolicyRecordedBeforeFeedContentDecodesAsPlaintext(t *testing.T) {
	raw, err := goldenEvents(t)[TypeTenantPolicySet].MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.Replace(raw, []byte(`,"feed_content":"plaintext"`), nil, 1)
	if bytes.Contains(raw, []byte("feed_content")) {
		t.Fatalf("the field is still there: %s", raw)
	}
	e, err := DecodeEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Data.(TenantPolicySet).FeedContent; got != FeedPlaintext {
		t.Fatalf("feed_content %q, want plaintext", got)
	}
}

// The redacted forms are part of the feed's contract: pinned here, and
// held to the JSON Schema by TestGoldenEventsMatchTheSchema.
func TestRedactedEventsMatchGoldenFiles(t *testing.T) {
	for _, mode := range []FeedContent{FeedSHA256, FeedNone} {
		t.Run(string(mode), func(t *testing.T) {
			e, _ := RedactForFeed(sentEvent(t, 101), mode)
			got, err := json.MarshalIndent(e, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			matchGolden(t, filepath.Join("testdata", "feed", "MessageSent."+string(mode)+".golden.json"), got)
			if strings.Contains(string(got), "bring") {
				t.Fatal("content in the redacted form")
			}
		})
	}
}
