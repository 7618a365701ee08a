package domain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sealedEvents are the forms content protection added to the contract:
// a send as the log stores it (content sealed twice, content ""), the
// same send on the feed once its live key is destroyed, and a recall that
// destroyed the audit copy too.
func sealedEvents(t *testing.T) map[string]Event {
	t.Helper()
	golden := goldenEvents(t)
	sent := golden[TypeMessageSent]
	p := sent.Data.(MessageSent)
	p.Content = ""
	p.ContentLive = &SealedContent{KeyID: "5f0e1d2c3b4a69788796a5b4c3d2e1f0", Ciphertext: []byte("nonce-12byte" + "ciphertext and its tag.")}
	p.ContentAudit = &SealedContent{KeyID: "0f1e2d3c4b5a69788796a5b4c3d2e1f5", Ciphertext: []byte("nonce-12BYTE" + "another ciphertext, tag.")}
	sent.Data = p
	shredded := sent
	q := p
	q.ContentRedacted = ContentShredded
	shredded.Data = q
	recalled := golden[TypeMessageRecalled]
	r := recalled.Data.(MessageRecalled)
	r.ShredsAuditContent = true
	recalled.Data = r
	return map[string]Event{"MessageSent.stored": sent, "MessageSent.shredded": shredded, "MessageRecalled.shreds-audit": recalled}
}

// The sealed forms are pinned like every other event, and decode back to
// what was encoded.
func TestSealedEventsMatchGoldenFiles(t *testing.T) {
	for name, e := range sealedEvents(t) {
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(e, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "sealed", name+".golden.json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./domain -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encoding changed:\n got %s\nwant %s", got, want)
			}
			back, err := DecodeEvent(want)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := back.MarshalJSON()
			orig, _ := e.MarshalJSON()
			if !bytes.Equal(again, orig) {
				t.Fatalf("round trip changed it:\n%s\n%s", again, orig)
			}
			if strings.Contains(string(want), "bring") {
				t.Fatal("plaintext in a sealed form")
			}
		})
	}
}

type opener func() (string, error)

func (o opener) Open(context.Context, Tenant, MsgID, KeyPurpose, SealedContent) (string, error) {
	return o()
}

// Reveal turns a missing key into a marker and keeps real failures as
// errors: a reader shows the first as absent content, the second as the
// failure it is.
func TestRevealMarksMissingKeysAndKeepsFailures(t *testing.T) {
	tn, _ := ParseTenant("acme/chat")
	broken := errors.New("disk failed")
	cases := []struct {
		name    string
		o       ContentOpener
		content string
		marker  FeedContent
		err     error
	}{
		{"opens", opener(func() (string, error) { return "hi", nil }), "hi", "", nil},
		{"shredded", opener(func() (string, error) { return "", &ContentUnavailableError{Marker: ContentShredded} }), "", ContentShredded, nil},
		{"not here", opener(func() (string, error) { return "", &ContentUnavailableError{Marker: ContentKeyUnavailable} }), "", ContentKeyUnavailable, nil},
		{"no key store", nil, "", ContentKeyUnavailable, nil},
		{"the key store fails", opener(func() (string, error) { return "", broken }), "", "", broken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			content, marker, err := Reveal(context.Background(), c.o, tn, "m1", PurposeLive, SealedContent{})
			if content != c.content || marker != c.marker || !errors.Is(err, c.err) {
				t.Fatalf("got %q %q %v", content, marker, err)
			}
		})
	}
}

// The decider records whether a recall destroys the audit copy: when the
// policy does not keep recalled content, for sealed sends only.
func TestRecallRecordsWhetherItShredsTheAuditCopy(t *testing.T) {
	keep, drop := DefaultPolicy(), DefaultPolicy()
	drop.AuditKeepsRecalledContent = false
	sealed := Message{Exists: true, Sent: MessageSent{MsgID: "m1", From: "alice", To: "bob", ChatType: ChatSingle, MsgType: "txt",
		ContentLive: &SealedContent{KeyID: "a"}, ContentAudit: &SealedContent{KeyID: "b"}}}
	plain := sealed
	plain.Sent.ContentLive, plain.Sent.ContentAudit = nil, nil
	cmd := RecallCommand{MsgID: "m1", Actor: "alice", Role: ActorMember}
	for _, c := range []struct {
		name string
		m    Message
		p    Policy
		want bool
	}{{"kept", sealed, keep, false}, {"dropped", sealed, drop, true}, {"plaintext send", plain, drop, false}} {
		t.Run(c.name, func(t *testing.T) {
			sealedAt := c.m
			sealedAt.SentAt = NewTime(sealedAt.SentAt.Time())
			_, payload := DecideRecall(cmd, sealedAt, c.p, sealedAt.SentAt.Time())
			r, ok := payload.(MessageRecalled)
			if !ok || r.ShredsAuditContent != c.want {
				t.Fatalf("%+v", payload)
			}
		})
	}
}
