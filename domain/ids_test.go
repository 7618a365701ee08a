package domain

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseTenant(t *testing.T) {
	for s, ok := range map[string]bool{
		"demo/demo": true, "acme-corp/chat_app": true, "a/b": true,
		"demo": false, "/demo": false, "demo/": false, "a/b/c": false, "-a/b": false, "a b/c": false, "a/b.c": false,
	} {
		_, err := ParseTenant(s)
		if (err == nil) != ok {
			t.Errorf("%q: err %v, want ok=%v", s, err, ok)
		}
	}
	tn, _ := ParseTenant("org/app")
	if tn.Org() != "org" || tn.App() != "app" || tn.String() != "org/app" {
		t.Fatalf("%+v", tn)
	}
	if MessageStream(tn, "m1") != "message-org/app.m1" || TenantStream(tn) != "tenant-org/app" {
		t.Fatal("stream names")
	}
}

func TestConversationID(t *testing.T) {
	if ConversationID(ChatSingle, "bob", "alice") != ConversationID(ChatSingle, "alice", "bob") {
		t.Fatal("a one-to-one conversation has two ids")
	}
	if got := ConversationID(ChatGroup, "alice", "g1"); got != "groupchat:g1" {
		t.Fatalf("group: %s", got)
	}
	for s, ok := range map[string]bool{
		"chat:alice:bob": true, "groupchat:g1": true, "chatroom:r1": true,
		"chat:alice": false, "dm:a:b": false, "groupchat:bad id": false, "nocolon": false,
	} {
		if _, err := ParseConversationID(s); (err == nil) != ok {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func TestTimeJSONHasMillisecondsInUTC(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	for in, want := range map[time.Time]string{
		time.Date(2026, 11, 24, 18, 0, 0, 0, shanghai):           `"2026-11-24T10:00:00.000Z"`,
		time.Date(2026, 11, 24, 10, 0, 0, 120_999_999, time.UTC): `"2026-11-24T10:00:00.120Z"`,
	} {
		b, err := json.Marshal(NewTime(in))
		if err != nil || string(b) != want {
			t.Errorf("%v: %s %v, want %s", in, b, err, want)
		}
		var back Time
		if err := json.Unmarshal(b, &back); err != nil || back.UnixMilli() != in.UnixMilli() {
			t.Errorf("round trip of %s: %v %v", b, back, err)
		}
	}
	var bad Time
	if err := json.Unmarshal([]byte(`"yesterday"`), &bad); err == nil {
		t.Error("parsed a bad time")
	}
}

// A one-to-one conversation has one id whichever order its two users are
// named in: the parser returns the same canonical id that sends record, so
// every lookup by conversation (view, stream, audit filter) finds it.
func TestParseConversationIDReturnsTheCanonicalID(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"chat:alice:bob", "chat:alice:bob"},
		{"chat:bob:alice", "chat:alice:bob"},
		{"chat:Bob:alice", "chat:Bob:alice"}, // byte order: upper case sorts first
		{"chat:alice:Bob", "chat:Bob:alice"},
		{"chat:u.2@x:u-1", "chat:u-1:u.2@x"},
		{"groupchat:g1", "groupchat:g1"},
		{"chatroom:r1", "chatroom:r1"},
	}
	for _, c := range cases {
		got, err := ParseConversationID(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseConversationID(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if sent := ConversationID(ChatSingle, "bob", "alice"); c.in == "chat:bob:alice" && got != sent {
			t.Errorf("parsed %q, but a send between them records %q", got, sent)
		}
	}
	for _, bad := range []string{"chat:alice:alice", "chat:alice:", "chat::bob", "chat:a:b:c"} {
		if _, err := ParseConversationID(bad); err == nil {
			t.Errorf("ParseConversationID(%q) accepted it", bad)
		}
	}
}
